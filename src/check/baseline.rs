//! `--baseline FILE`: the per-fingerprint statistics of a previous run, to
//! tell new query shapes and regressions from what was already there. Two
//! files serve: a snapshot (`pgadvisor snapshot save`, raw
//! pg_stat_statements rows that we group by fingerprint here) and a
//! previous `check --format json` report (which carries per-shape stats
//! for exactly this purpose).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::check::report::{REPORT_KIND, REPORT_VERSION};
use crate::intake::{StatementStat, snapshot};
use crate::normalize::Fingerprint;
use crate::shapes::GroupOptions;

/// What the baseline knew about one query shape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BaselineShape {
    pub calls: i64,
    pub total_exec_time: f64,
    /// One text of the shape, for messages.
    pub query: String,
}

impl BaselineShape {
    pub fn mean_exec_time(&self) -> f64 {
        if self.calls > 0 {
            self.total_exec_time / self.calls as f64
        } else {
            0.0
        }
    }
}

/// A previous run, by fingerprint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Baseline {
    /// `snapshot` or `report`.
    pub kind: String,
    /// The file it came from.
    pub origin: String,
    pub shapes: BTreeMap<Fingerprint, BaselineShape>,
}

impl Baseline {
    pub fn get(&self, fp: &Fingerprint) -> Option<&BaselineShape> {
        self.shapes.get(fp)
    }

    /// Read a snapshot or report file.
    pub fn load(path: &Path) -> anyhow::Result<Baseline> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the baseline {} (pass a `pgadvisor snapshot save` file or a \
                 `check --format json` report to --baseline)",
                path.display()
            )
        })?;
        Baseline::from_json(&text, &path.display().to_string())
    }

    /// Parse a baseline's text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> anyhow::Result<Baseline> {
        let value: serde_json::Value = serde_json::from_str(text).with_context(|| {
            format!(
                "baseline {origin} is not JSON (expected a `pgadvisor snapshot save` file or a \
                 `check --format json` report)"
            )
        })?;
        if value.get("kind").and_then(|k| k.as_str()) == Some(REPORT_KIND) {
            return from_report(value, origin);
        }
        if value.get("format").and_then(|k| k.as_str()) == Some(snapshot::FORMAT) {
            // intake owns the snapshot layout and its version checks.
            let set = snapshot::parse(text, Path::new(origin))?;
            return Ok(from_statements(&set.into_workload().statements, origin));
        }
        // A workload dump (`{"statements": [...]}`) carries the same rows.
        match value.get("statements") {
            Some(rows) => {
                let rows: Vec<StatementStat> = serde_json::from_value(rows.clone())
                    .with_context(|| format!("baseline {origin}: unreadable `statements`"))?;
                Ok(from_statements(&rows, origin))
            }
            None => bail!(
                "baseline {origin} is neither a pgadvisor snapshot (no `\"format\": \
                 \"{}\"`) nor a `check --format json` report (no `\"kind\": \
                 \"{REPORT_KIND}\"`)",
                snapshot::FORMAT
            ),
        }
    }
}

#[derive(Deserialize)]
struct ReportFile {
    version: u32,
    shapes: Vec<ReportShape>,
}

#[derive(Deserialize)]
struct ReportShape {
    fingerprint: Fingerprint,
    calls: i64,
    total_exec_time: f64,
    #[serde(default)]
    query: String,
}

fn from_report(value: serde_json::Value, origin: &str) -> anyhow::Result<Baseline> {
    let report: ReportFile = serde_json::from_value(value)
        .with_context(|| format!("baseline {origin}: unreadable check report"))?;
    if report.version != REPORT_VERSION {
        bail!(
            "baseline {origin}: check report version {} is not supported (this pgadvisor \
             reads version {REPORT_VERSION}); regenerate it with this version",
            report.version
        );
    }
    let mut shapes: BTreeMap<Fingerprint, BaselineShape> = BTreeMap::new();
    for s in report.shapes {
        add(
            &mut shapes,
            s.fingerprint,
            s.calls,
            s.total_exec_time,
            s.query,
        );
    }
    Ok(Baseline {
        kind: "report".into(),
        origin: origin.into(),
        shapes,
    })
}

fn from_statements(rows: &[StatementStat], origin: &str) -> Baseline {
    let merged = GroupOptions {
        merge_users: true,
        merge_databases: true,
    };
    let mut shapes: BTreeMap<Fingerprint, BaselineShape> = BTreeMap::new();
    for s in crate::shapes::group(rows, &merged) {
        add(
            &mut shapes,
            s.fingerprint,
            s.calls,
            s.total_exec_time,
            s.query,
        );
    }
    Baseline {
        kind: "snapshot".into(),
        origin: origin.into(),
        shapes,
    }
}

/// Shapes split by user or database in the file are merged: the baseline
/// is judged by fingerprint alone.
fn add(
    shapes: &mut BTreeMap<Fingerprint, BaselineShape>,
    fp: Fingerprint,
    calls: i64,
    total: f64,
    query: String,
) {
    let e = shapes.entry(fp).or_default();
    e.calls = e.calls.saturating_add(calls);
    e.total_exec_time += total;
    if e.query.is_empty() {
        e.query = query;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot file as `pgadvisor snapshot save` writes it.
    fn snapshot_text(version: u32, rows: &[(i64, &str, i64, f64)]) -> String {
        use crate::intake::{PgssRow, PgssSet, Source};
        let set = PgssSet {
            source: Source {
                kind: "live".into(),
                location: "postgres@db:5432/app".into(),
            },
            captured_at: Some("2026-11-22T01:00:00Z".into()),
            server_version_num: Some(150000),
            rows: rows
                .iter()
                .map(|(userid, query, calls, total)| PgssRow {
                    userid: Some(*userid),
                    dbid: Some(5),
                    toplevel: Some(true),
                    stats_since: None,
                    stat: StatementStat {
                        query: query.to_string(),
                        calls: *calls,
                        total_exec_time: *total,
                        ..StatementStat::default()
                    },
                })
                .collect(),
        };
        let mut file = snapshot::SnapshotFile::from_set(&set);
        file.version = version;
        serde_json::to_string(&file).expect("serializes")
    }

    #[test]
    fn reads_a_snapshot_and_merges_rows_by_fingerprint() {
        let text = snapshot_text(
            1,
            &[
                (10, "SELECT * FROM t WHERE id = $1", 10, 20.0),
                (11, "SELECT * FROM t WHERE id = $1", 30, 100.0),
                (10, "SELECT 2", 1, 1.0),
            ],
        );
        let b = Baseline::from_json(&text, "snap.json").expect("reads");
        assert_eq!(b.kind, "snapshot");
        let fp = crate::normalize::fingerprint("SELECT * FROM t WHERE id = $1").fingerprint;
        let s = b.get(&fp).expect("merged shape");
        assert_eq!(s.calls, 40);
        assert_eq!(s.mean_exec_time(), 3.0);
        assert_eq!(b.shapes.len(), 2);
    }

    #[test]
    fn reads_a_check_report() {
        let text = r#"{"version":1,"kind":"pgadvisor-check-report","findings":[],
            "shapes":[{"fingerprint":"00000000000000ff","calls":4,"total_exec_time":8.0,"query":"SELECT 1"}]}"#;
        let b = Baseline::from_json(text, "r.json").expect("reads");
        assert_eq!(b.kind, "report");
        assert_eq!(
            b.get(&Fingerprint(255)).map(|s| s.mean_exec_time()),
            Some(2.0)
        );
    }

    #[test]
    fn rejects_other_json_and_other_versions() {
        let err = Baseline::from_json("{\"a\":1}", "x.json").expect_err("not a baseline");
        assert!(err.to_string().contains("x.json"), "{err}");
        let err = Baseline::from_json(
            r#"{"version":9,"kind":"pgadvisor-check-report","shapes":[]}"#,
            "r.json",
        )
        .expect_err("version");
        assert!(format!("{err:#}").contains("version 9"), "{err:#}");
        assert!(Baseline::from_json("not json", "y").is_err());
        let err = Baseline::from_json(&snapshot_text(7, &[]), "s").expect_err("snapshot version");
        assert!(err.to_string().contains("version 7"), "{err}");
    }
}
