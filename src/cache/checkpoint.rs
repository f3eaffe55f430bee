//! A paused `cache inspect`. When a scan is interrupted (Ctrl-C) the keys
//! measured so far — the whole bounded [`Aggregate`] — are saved with the
//! cursors that continue it, so `--cursor` resumes the scan *and* the
//! report: the resumed run starts from the saved totals and, once every
//! node reaches the end, reports the whole keyspace as one complete scan.
//!
//! One file per scanned target (`target`, database, `--match`) in
//! `$XDG_STATE_HOME/pgadvisor` (default `~/.local/state/pgadvisor`), written
//! atomically and readable by the owner only (it holds key names). A
//! complete scan of the same target removes it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::stats::Aggregate;

/// Bumped when the saved shape changes; other versions are not merged.
const FORMAT: u32 = 1;

/// What identifies the scan a checkpoint belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanTarget {
    /// The target as reports show it (no password).
    pub target: String,
    pub db: i64,
    pub match_glob: Option<String>,
    /// The scanned nodes, in report order.
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    pub scan: ScanTarget,
    /// The `--cursor` text that continues it.
    pub cursor: String,
    /// Every node's scan began at cursor 0, in this run or the runs it
    /// continues: a resumed run that reaches the end is complete.
    pub from_start: bool,
    pub keys_scanned: u64,
    pub keys_vanished: u64,
    pub agg: Aggregate,
}

impl Checkpoint {
    pub fn new(
        scan: ScanTarget,
        cursor: String,
        from_start: bool,
        keys_scanned: u64,
        keys_vanished: u64,
        agg: Aggregate,
    ) -> Checkpoint {
        Checkpoint {
            format: FORMAT,
            scan,
            cursor,
            from_start,
            keys_scanned,
            keys_vanished,
            agg,
        }
    }

    /// Why this checkpoint cannot continue a scan of `scan` from `cursor`;
    /// `None` when it can.
    pub fn mismatch(&self, scan: &ScanTarget, cursor: &str) -> Option<String> {
        if self.format != FORMAT {
            Some("it was saved by another pgadvisor version".into())
        } else if self.scan.nodes != scan.nodes {
            Some(format!(
                "the scanned nodes changed (then: {}; now: {})",
                self.scan.nodes.join(", "),
                scan.nodes.join(", ")
            ))
        } else if self.scan != *scan {
            Some("it belongs to another target, database or --match".into())
        } else if self.cursor != cursor {
            Some(format!(
                "it continues from --cursor '{}', not '{cursor}'",
                self.cursor
            ))
        } else {
            None
        }
    }
}

/// The directory checkpoints live in: `$XDG_STATE_HOME/pgadvisor`, else
/// `$HOME/.local/state/pgadvisor`, else the system temp directory.
pub fn state_dir() -> PathBuf {
    let nonempty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    if let Some(x) = nonempty("XDG_STATE_HOME") {
        PathBuf::from(x).join("pgadvisor")
    } else if let Some(h) = nonempty("HOME") {
        PathBuf::from(h).join(".local/state/pgadvisor")
    } else {
        std::env::temp_dir().join("pgadvisor")
    }
}

/// The checkpoint file of one scanned target (nodes do not enter the name:
/// a checkpoint of a changed cluster is found and refused with the reason).
pub fn path_for(dir: &Path, scan: &ScanTarget) -> PathBuf {
    let id = format!(
        "{}\0{}\0{}",
        scan.target,
        scan.db,
        scan.match_glob.as_deref().unwrap_or("")
    );
    dir.join(format!(
        "inspect-{:016x}.json",
        xxhash_rust::xxh3::xxh3_64(id.as_bytes())
    ))
}

/// Read a checkpoint; `None` when there is none.
pub fn load(path: &Path) -> Result<Option<Checkpoint>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the checkpoint {}", path.display()));
        }
    };
    serde_json::from_slice(&text).map(Some).with_context(|| {
        format!(
            "the checkpoint {} is damaged; delete it and scan from the start",
            path.display()
        )
    })
}

/// Write atomically (temporary file + rename), readable by the owner only.
pub fn save(path: &Path, cp: &Checkpoint) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(&serde_json::to_vec(cp).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write the checkpoint {}", path.display()))
}

/// Remove a checkpoint (a complete scan made it obsolete); absent is fine.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the checkpoint {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::stats::KeyInfo;

    fn scan(nodes: &[&str]) -> ScanTarget {
        ScanTarget {
            target: "127.0.0.1:6379".into(),
            db: 0,
            match_glob: None,
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn round_trips_and_refuses_other_scans() {
        let mut agg = Aggregate::new(100, 5, 1, 1 << 20);
        for i in 0..50 {
            agg.add(&KeyInfo {
                key: format!("customer:{i}"),
                type_idx: 0,
                ttl_ms: Some(60_000),
                memory: Some(100 + i),
                elements: None,
                node: 0,
            });
        }
        let cp = Checkpoint::new(scan(&["a:1"]), "42".into(), true, 50, 1, agg);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_for(dir.path(), &cp.scan);
        assert!(load(&path).expect("load").is_none());
        save(&path, &cp).expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = load(&path).expect("load").expect("saved");
        assert_eq!(back.agg.overall.keys, 50);
        assert_eq!(back.agg.overall.memory, cp.agg.overall.memory);
        assert_eq!(back.agg.patterns.len(), 1);
        assert!(back.mismatch(&scan(&["a:1"]), "42").is_none());
        assert!(back.mismatch(&scan(&["a:1"]), "43").is_some());
        assert!(
            back.mismatch(&scan(&["a:1", "b:2"]), "42")
                .is_some_and(|m| m.contains("nodes changed"))
        );
        let mut other = scan(&["a:1"]);
        other.match_glob = Some("x:*".into());
        assert_ne!(path_for(dir.path(), &other), path);
        std::fs::write(&path, b"{").expect("damage");
        assert!(load(&path).is_err());
        remove(&path).expect("remove");
        remove(&path).expect("absent is fine");
    }
}
