//! pg_stat_statements exports: CSV from
//! `\copy (SELECT * FROM pg_stat_statements) TO 'f.csv' CSV HEADER`, JSON
//! as `SELECT json_agg(s) FROM pg_stat_statements s` prints it (an array
//! of row objects), or NDJSON (one row object per line). A pgadvisor
//! snapshot file is accepted too. The format is told from the content,
//! not the file name. Column names of PostgreSQL 12 to 18 are mapped by
//! [`super::columns`].

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::{Map, Value};

use super::{PgssRow, PgssSet, Source, text::read_text};

const WHAT: &str = "a pg_stat_statements export (CSV with a header row, or JSON)";

/// Read an export file.
pub fn read_file(path: &Path) -> Result<PgssSet> {
    let text = read_text(path, WHAT)?;
    let captured_at = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| humantime::format_rfc3339_seconds(t).to_string());
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') && super::snapshot::looks_like_snapshot(trimmed) {
        return super::snapshot::parse(&text, path);
    }
    let (kind, rows) = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        ("json", parse_json(&text, path)?)
    } else {
        ("csv", parse_csv(&text, path)?)
    };
    Ok(PgssSet {
        source: Source {
            kind: kind.into(),
            location: path.display().to_string(),
        },
        captured_at,
        server_version_num: None,
        rows,
    })
}

/// Parse CSV text (header row required). Every record must have as many
/// fields as the header: a short last record means the file was cut off.
pub fn parse_csv(text: &str, path: &Path) -> Result<Vec<PgssRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        Err(e) => bail!("cannot read the CSV header of {}: {e}", path.display()),
    };
    if !headers.iter().any(|h| h == "query") || !headers.iter().any(|h| h == "calls") {
        bail!(
            "{} does not look like a pg_stat_statements export: its first line has no `query` and \
             `calls` columns (found: {}). Export with a header row: \
             `\\copy (SELECT * FROM pg_stat_statements) TO 'f.csv' CSV HEADER`.",
            path.display(),
            shorten_list(&headers)
        );
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record_no = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let detail = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("it has {len} fields where the header has {expected_len}"),
                    _ => e.to_string(),
                };
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                bail!(
                    "{} is not a complete CSV export: record {record_no} (line {line}) is broken — \
                     {detail}. The file looks truncated or edited; export it again with \
                     `\\copy (SELECT * FROM pg_stat_statements) TO 'f.csv' CSV HEADER` and let the \
                     copy finish.",
                    path.display()
                );
            }
        };
        let map: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
            .collect();
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        rows.push(PgssRow::from_map(&map).map_err(|e| {
            anyhow::anyhow!(
                "{}: record {record_no} (line {line}) {e}. Fix or remove that record, or export \
                 again with `\\copy (SELECT * FROM pg_stat_statements) TO 'f.csv' CSV HEADER`.",
                path.display()
            )
        })?);
    }
    Ok(rows)
}

/// Parse JSON text: an array of row objects, or one object per line.
pub fn parse_json(text: &str, path: &Path) -> Result<Vec<PgssRow>> {
    let trimmed = text.trim_start();
    let values: Vec<Value> = if trimmed.starts_with('[') {
        match serde_json::from_str::<Vec<Value>>(trimmed) {
            Ok(v) => v,
            Err(e) => bail!(
                "{} is not valid JSON ({e}). The file looks truncated or edited; export it again \
                 with `psql -Atc 'SELECT json_agg(s) FROM pg_stat_statements s' > f.json`.",
                path.display()
            ),
        }
    } else {
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(v) => values.push(v),
                Err(e) => bail!(
                    "{} line {} is not a JSON object ({e}). NDJSON exports hold one row object \
                     per line; the file looks truncated or edited. Export it again, e.g. \
                     `psql -Atc 'SELECT row_to_json(s) FROM pg_stat_statements s' > f.json`.",
                    path.display(),
                    i + 1
                ),
            }
        }
        values
    };
    let mut rows = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let Value::Object(map) = v else {
            bail!(
                "{}: element {} is not a row object; expected the array `SELECT json_agg(s) FROM \
                 pg_stat_statements s` prints.",
                path.display(),
                i + 1
            );
        };
        let map: Map<String, Value> = map
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        rows.push(PgssRow::from_map(&map).map_err(|e| {
            anyhow::anyhow!(
                "{}: row {} {e}. Export full pg_stat_statements rows (`SELECT json_agg(s) FROM \
                 pg_stat_statements s`).",
                path.display(),
                i + 1
            )
        })?);
    }
    Ok(rows)
}

fn shorten_list(items: &[String]) -> String {
    let mut s = items.iter().take(6).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 6 {
        s.push_str(", …");
    }
    if s.chars().count() > 120 {
        s = s.chars().take(119).collect::<String>() + "…";
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel)
    }

    #[test]
    fn seed_platform_csv_and_json_agree() {
        let csv = read_file(&fixture("stats/seed-platform.csv")).unwrap();
        let json = read_file(&fixture("stats/seed-platform.json")).unwrap();
        assert_eq!(csv.source.kind, "csv");
        assert_eq!(json.source.kind, "json");
        assert!(csv.rows.len() > 20, "{}", csv.rows.len());
        assert_eq!(csv.rows.len(), json.rows.len());
        for (a, b) in csv.rows.iter().zip(&json.rows) {
            assert_eq!(a.stat.queryid, b.stat.queryid);
            assert_eq!(a.stat.calls, b.stat.calls);
            assert_eq!(a.stat.query, b.stat.query);
            assert!((a.stat.total_exec_time - b.stat.total_exec_time).abs() < 1e-6);
            assert_eq!(
                (a.userid, a.dbid, a.toplevel),
                (b.userid, b.dbid, b.toplevel)
            );
        }
        let email = csv
            .rows
            .iter()
            .find(|r| r.stat.query.contains("WHERE email ="))
            .expect("the email lookup is in the workload");
        assert!(email.stat.calls > 0);
    }

    #[test]
    fn pg13_and_pg17_column_names() {
        let pg13 = read_file(&fixture("stats/pg13.csv")).unwrap();
        assert_eq!(pg13.rows.len(), 3);
        assert!(pg13.rows.iter().all(|r| r.toplevel.is_none()));
        assert_eq!(pg13.rows[0].stat.io_time, 3.5);
        let pg17 = read_file(&fixture("stats/pg17.csv")).unwrap();
        assert_eq!(pg17.rows.len(), 2);
        assert_eq!(pg17.rows[0].stat.io_time, 6.0);
        assert!(pg17.rows[0].stats_since.is_some());
        let pg12 = read_file(&fixture("stats/pg12.json")).unwrap();
        assert_eq!(pg12.rows[0].stat.total_exec_time, 120.5);
        let nd = read_file(&fixture("stats/pg16.ndjson")).unwrap();
        assert_eq!(nd.rows.len(), 2);
        assert_eq!(nd.source.kind, "json");
    }

    #[test]
    fn bad_files_name_the_input_and_the_fix() {
        for (rel, needle) in [
            ("bad/truncated.csv", "truncated"),
            ("bad/empty.csv", "is empty"),
            ("bad/latin1.csv", "not UTF-8"),
            ("bad/truncated.json", "not valid JSON"),
            (
                "bad/not-pgss.csv",
                "does not look like a pg_stat_statements export",
            ),
        ] {
            let err = format!("{:#}", read_file(&fixture(rel)).unwrap_err());
            assert!(err.contains(rel.rsplit('/').next().unwrap()), "{err}");
            assert!(err.contains(needle), "{rel}: {err}");
        }
    }
}
