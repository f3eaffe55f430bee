//! Snapshots: pg_stat_statements counters saved to a versioned JSON file
//! (`pgadvisor snapshot save FILE`) and the delta between a snapshot and
//! now (`top --since FILE`), so a window of activity can be measured
//! without `pg_stat_statements_reset()`.
//!
//! Entries are matched on (queryid, userid, dbid, toplevel). An entry whose
//! counters went down, or whose `stats_since` (PostgreSQL 17+) changed,
//! was reset or deallocated and created again in between: its current
//! values are the activity of the window. Entries of the snapshot that are
//! gone were deallocated; what they did in the window is unknown.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::text::read_text;
use super::{PgssRow, PgssSet, Source};

/// The `format` field of every snapshot file.
pub const FORMAT: &str = "pgadvisor-snapshot";
/// The snapshot layout this build writes and the newest it reads.
pub const VERSION: u32 = 1;

/// The file layout (docs/snapshot.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub format: String,
    pub version: u32,
    pub captured_at: Option<String>,
    pub server_version_num: Option<i32>,
    pub source: Source,
    pub rows: Vec<PgssRow>,
}

impl SnapshotFile {
    pub fn from_set(set: &PgssSet) -> SnapshotFile {
        SnapshotFile {
            format: FORMAT.into(),
            version: VERSION,
            captured_at: set.captured_at.clone(),
            server_version_num: set.server_version_num,
            source: set.source.clone(),
            rows: set.rows.clone(),
        }
    }
}

/// Whether JSON text is a snapshot file rather than an export.
pub fn looks_like_snapshot(text: &str) -> bool {
    let head: String = text.chars().take(400).collect();
    head.contains(&format!("\"{FORMAT}\""))
}

/// Parse snapshot text.
pub fn parse(text: &str, path: &Path) -> Result<PgssSet> {
    let file: SnapshotFile = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a readable pgadvisor snapshot ({e}). The file looks truncated or edited; \
             save a new one with `pgadvisor snapshot save FILE`.",
            path.display()
        )
    })?;
    if file.format != FORMAT {
        bail!(
            "{} is not a pgadvisor snapshot (format {:?}); save one with `pgadvisor snapshot save \
             FILE`.",
            path.display(),
            file.format
        );
    }
    if file.version > VERSION {
        bail!(
            "{} is a version {} snapshot, newer than this pgadvisor reads (up to {VERSION}). \
             Upgrade pgadvisor, or save a new snapshot with this one.",
            path.display(),
            file.version
        );
    }
    Ok(PgssSet {
        source: Source {
            kind: "snapshot".into(),
            location: path.display().to_string(),
        },
        captured_at: file.captured_at,
        server_version_num: file.server_version_num,
        rows: file.rows,
    })
}

/// Read a snapshot file.
pub fn read_file(path: &Path) -> Result<PgssSet> {
    let text = read_text(
        path,
        "a pgadvisor snapshot (`pgadvisor snapshot save FILE`)",
    )?;
    if !looks_like_snapshot(&text) {
        bail!(
            "{} is not a pgadvisor snapshot: --since needs a file written by `pgadvisor snapshot \
             save FILE` (a pg_stat_statements export goes to --stats instead).",
            path.display()
        );
    }
    parse(&text, path)
}

/// Write a snapshot atomically: a temporary file next to the target,
/// renamed over it once complete, so a failed save never leaves a
/// half-written snapshot behind under the real name.
pub fn write_file(set: &PgssSet, path: &Path) -> Result<()> {
    let file = SnapshotFile::from_set(set);
    let mut json = serde_json::to_vec_pretty(&file).context("cannot encode the snapshot")?;
    json.push(b'\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, &json).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "cannot write the snapshot to {}: {e}. Check that the directory exists and is \
             writable.",
            path.display()
        );
    }
    Ok(())
}

type Key = (Option<i64>, Option<i64>, Option<i64>, Option<bool>, String);

fn key(r: &PgssRow) -> Key {
    // Without a queryid (compute_query_id off) the text is the identity.
    let text = if r.stat.queryid.is_none() {
        r.stat.query.clone()
    } else {
        String::new()
    };
    (r.stat.queryid, r.userid, r.dbid, r.toplevel, text)
}

/// What happened to entries between a snapshot and now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeltaSummary {
    /// Entries present in both with new activity.
    pub changed: usize,
    /// Entries that are new since the snapshot.
    pub new: usize,
    /// Entries whose counters were reset in between (taken whole).
    pub reset: usize,
    /// Snapshot entries that are gone (deallocated or reset away).
    pub gone: usize,
}

/// The activity between `base` (a snapshot) and `current`.
pub fn delta(base: &PgssSet, current: &PgssSet, base_path: &Path) -> PgssSet {
    delta_with_summary(base, current, base_path).0
}

/// [`delta`], also saying how entries matched.
pub fn delta_with_summary(
    base: &PgssSet,
    current: &PgssSet,
    base_path: &Path,
) -> (PgssSet, DeltaSummary) {
    let before: HashMap<Key, &PgssRow> = base.rows.iter().map(|r| (key(r), r)).collect();
    let mut summary = DeltaSummary::default();
    let mut seen = 0usize;
    let mut rows = Vec::new();
    for now in &current.rows {
        let (row, counter) = match before.get(&key(now)) {
            None => (now.clone(), &mut summary.new),
            Some(then) => {
                seen += 1;
                if was_reset(then, now) {
                    (now.clone(), &mut summary.reset)
                } else {
                    (subtract(then, now), &mut summary.changed)
                }
            }
        };
        // Entries without activity in the window are not part of it.
        if row.stat.calls > 0 || row.stat.total_plan_time > 0.0 {
            *counter += 1;
            rows.push(row);
        }
    }
    summary.gone = base.rows.len().saturating_sub(seen);
    let set = PgssSet {
        source: Source {
            kind: "snapshot".into(),
            location: format!(
                "{} since {} ({})",
                current.source.location,
                base_path.display(),
                base.captured_at.as_deref().unwrap_or("time unknown")
            ),
        },
        captured_at: current.captured_at.clone(),
        server_version_num: current.server_version_num,
        rows,
    };
    (set, summary)
}

fn was_reset(then: &PgssRow, now: &PgssRow) -> bool {
    let (a, b) = (&then.stat, &now.stat);
    b.calls < a.calls
        || b.total_exec_time + 1e-9 < a.total_exec_time
        || b.rows < a.rows
        || b.shared_blks_hit < a.shared_blks_hit
        || b.shared_blks_read < a.shared_blks_read
        || (then.stats_since.is_some()
            && now.stats_since.is_some()
            && then.stats_since != now.stats_since)
}

/// `now - then` for counters. Min and max cannot be taken apart: they stay
/// the entry's values since it started. The mean and standard deviation
/// are those of the window (from the sums of times and squared times).
fn subtract(then: &PgssRow, now: &PgssRow) -> PgssRow {
    let (a, b) = (&then.stat, &now.stat);
    let mut out = now.clone();
    let s = &mut out.stat;
    s.calls = b.calls - a.calls;
    s.total_exec_time = (b.total_exec_time - a.total_exec_time).max(0.0);
    s.total_plan_time = (b.total_plan_time - a.total_plan_time).max(0.0);
    s.rows = b.rows - a.rows;
    s.shared_blks_hit = b.shared_blks_hit - a.shared_blks_hit;
    s.shared_blks_read = b.shared_blks_read - a.shared_blks_read;
    s.shared_blks_dirtied = (b.shared_blks_dirtied - a.shared_blks_dirtied).max(0);
    s.shared_blks_written = (b.shared_blks_written - a.shared_blks_written).max(0);
    s.local_blks_hit = (b.local_blks_hit - a.local_blks_hit).max(0);
    s.local_blks_read = (b.local_blks_read - a.local_blks_read).max(0);
    s.temp_blks_read = (b.temp_blks_read - a.temp_blks_read).max(0);
    s.temp_blks_written = (b.temp_blks_written - a.temp_blks_written).max(0);
    s.io_time = (b.io_time - a.io_time).max(0.0);
    s.wal_bytes = (b.wal_bytes - a.wal_bytes).max(0);
    if s.calls > 0 {
        let n = s.calls as f64;
        let mean = s.total_exec_time / n;
        let sumsq = |st: &crate::intake::StatementStat| {
            st.calls as f64 * (st.stddev_exec_time.powi(2) + st.mean_exec_time.powi(2))
        };
        let var = (sumsq(b) - sumsq(a)) / n - mean * mean;
        s.mean_exec_time = mean;
        s.stddev_exec_time = var.max(0.0).sqrt();
    } else {
        s.mean_exec_time = 0.0;
        s.stddev_exec_time = 0.0;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use crate::intake::StatementStat;

    fn row(queryid: i64, calls: i64, total: f64) -> PgssRow {
        PgssRow {
            userid: Some(10),
            dbid: Some(5),
            toplevel: Some(true),
            stats_since: None,
            stat: StatementStat {
                queryid: Some(queryid),
                query: format!("SELECT {queryid}"),
                calls,
                total_exec_time: total,
                mean_exec_time: if calls > 0 { total / calls as f64 } else { 0.0 },
                rows: calls,
                ..StatementStat::default()
            },
        }
    }

    fn set(rows: Vec<PgssRow>) -> PgssSet {
        PgssSet {
            source: Source {
                kind: "live".into(),
                location: "db".into(),
            },
            captured_at: Some("2026-01-01T00:00:00Z".into()),
            server_version_num: Some(150000),
            rows,
        }
    }

    #[test]
    fn delta_subtracts_and_handles_resets() {
        let base = set(vec![
            row(1, 10, 100.0),
            row(2, 50, 10.0),
            row(3, 5, 5.0),
            row(4, 7, 7.0),
        ]);
        let now = set(vec![
            row(1, 14, 140.0), // 4 more calls
            row(2, 3, 1.5),    // reset in between: take as is
            row(3, 5, 5.0),    // idle: dropped
            row(9, 2, 8.0),    // new entry
        ]);
        let (d, summary) = delta_with_summary(&base, &now, Path::new("s.json"));
        let got: Vec<(i64, i64, f64)> = d
            .rows
            .iter()
            .map(|r| {
                (
                    r.stat.queryid.unwrap(),
                    r.stat.calls,
                    r.stat.total_exec_time,
                )
            })
            .collect();
        assert_eq!(got, [(1, 4, 40.0), (2, 3, 1.5), (9, 2, 8.0)]);
        assert_eq!(d.rows[0].stat.mean_exec_time, 10.0);
        assert_eq!(summary.new, 1);
        assert_eq!(summary.reset, 1);
        assert_eq!(summary.gone, 1);
        assert_eq!(summary.changed, 1);
        assert!(d.source.location.contains("since s.json"));
    }

    #[test]
    fn stats_since_change_means_a_new_entry() {
        let mut then = row(1, 10, 10.0);
        then.stats_since = Some("2026-01-01 00:00:00+00".into());
        let mut now = row(1, 12, 12.0);
        now.stats_since = Some("2026-01-02 00:00:00+00".into());
        let d = delta(&set(vec![then]), &set(vec![now]), Path::new("s"));
        assert_eq!(d.rows[0].stat.calls, 12);
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json");
        let original = set(vec![row(1, 10, 100.0), row(2, 1, 0.5)]);
        write_file(&original, &path).unwrap();
        let back = read_file(&path).unwrap();
        assert_eq!(back.rows, original.rows);
        assert_eq!(back.captured_at, original.captured_at);
        assert_eq!(back.source.kind, "snapshot");
        // An export is not a snapshot.
        let export =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stats/seed-platform.json");
        let err = read_file(&export).unwrap_err().to_string();
        assert!(err.contains("not a pgadvisor snapshot"), "{err}");
    }
}
