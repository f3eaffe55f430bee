//! Report formats of `pgadvisor check`: one file per format, each a pure
//! function from a [`Report`] to text, so insta snapshots pin them and
//! `--output` can write the whole text atomically.

mod github;
mod gitlab;
mod junit;
mod markdown;
mod table;

use crate::check::report::Report;

pub use markdown::MARKDOWN_LIMIT;

/// `--format` of `pgadvisor check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum CheckFormat {
    /// Human-readable table and a one-line verdict.
    #[default]
    Table,
    /// The versioned report (docs/check.md); usable as a later `--baseline`.
    Json,
    /// JUnit XML: a testsuite per rule, a testcase per (rule, query shape).
    Junit,
    /// Markdown for a PR comment or $GITHUB_STEP_SUMMARY (kept under 1 MiB).
    Markdown,
    /// GitHub Actions workflow commands (`::error …::`), one per finding.
    Github,
    /// GitLab Code Quality JSON (artifacts:reports:codequality).
    Gitlab,
}

/// What the formats need besides the report.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// File CI annotations point at (`--path-for-findings`, else the rules
    /// file; `None` for GitHub means no file, the annotation is global).
    pub path: Option<String>,
    /// The rules file's text, to point each finding at its rule's line.
    pub rules_text: String,
}

impl RenderOptions {
    fn line_of(&self, rule: &str) -> usize {
        Report::rule_line(&self.rules_text, rule)
    }
}

/// Render `report` in `format`.
pub fn render(report: &Report, format: CheckFormat, opts: &RenderOptions) -> String {
    match format {
        CheckFormat::Table => table::render(report),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)
                .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize the report: {e}\"}}"));
            s.push('\n');
            s
        }
        CheckFormat::Junit => junit::render(report, opts),
        CheckFormat::Markdown => markdown::render(report, MARKDOWN_LIMIT),
        CheckFormat::Github => github::render(report, opts),
        CheckFormat::Gitlab => gitlab::render(report, opts),
    }
}

/// `1 error`, `2 errors`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// One line saying how the check went, for the terminal.
pub fn verdict(report: &Report) -> String {
    let s = &report.summary;
    let head = if s.passed {
        "check passed"
    } else {
        "check failed"
    };
    format!(
        "{head}: {}, {}, {} in {} ({} rules)",
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
        plural(s.infos, "info", "infos"),
        plural(s.shapes, "query shape", "query shapes"),
        report.rules.len()
    )
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A fixed report with one finding of each severity and kind of text
    //! that needs escaping, for the format snapshots.
    use std::collections::BTreeMap;

    use crate::check::finding::{Finding, Severity};
    use crate::check::report::{Ignored, Report, ShapeStats, Summary};
    use crate::intake::Source;
    use crate::normalize::Fingerprint;

    fn shape(fp: u64, calls: i64, mean: f64, query: &str) -> ShapeStats {
        ShapeStats {
            fingerprint: Fingerprint(fp),
            queryids: vec![fp as i64 * 7],
            database: Some("app".into()),
            user: None,
            calls,
            total_exec_time: mean * calls as f64,
            mean_exec_time: mean,
            max_exec_time: mean * 3.0,
            total_plan_time: 0.0,
            rows: calls,
            shared_blks_hit: 1000,
            shared_blks_read: 10,
            temp_blks_written: 0,
            query: query.into(),
        }
    }

    fn ev(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    pub fn report() -> Report {
        let q1 = "SELECT pg_sleep($1)";
        let q2 = "SELECT * FROM app.customers WHERE note LIKE $1 || '%' AND a < b & c > \"d\"";
        let q3 = "SELECT id, `x` | y FROM app.bookings\nWHERE status = $1";
        Report {
            version: 1,
            kind: "pgadvisor-check-report".into(),
            source: Some(Source {
                kind: "csv".into(),
                location: "stats.csv".into(),
            }),
            rules_file: "rules/default.yaml".into(),
            baseline: Some("main.json".into()),
            summary: Summary {
                passed: false,
                shapes: 4,
                errors: 1,
                warnings: 1,
                infos: 1,
            },
            rules: vec![
                "slow-mean-time".into(),
                "rows-per-call".into(),
                "new-query-shape".into(),
            ],
            findings: vec![
                Finding {
                    rule: "slow-mean-time".into(),
                    severity: Severity::Error,
                    fingerprint: Fingerprint(0x1111),
                    queryids: vec![0x1111 * 7],
                    database: Some("app".into()),
                    user: None,
                    message: "mean execution time 200.4 ms is over 100.0 ms (5 calls)".into(),
                    help: "run `pgadvisor explain` on it".into(),
                    evidence: ev(&[("calls", 5.0), ("max_mean_ms", 100.0), ("mean_ms", 200.4)]),
                    query: q1.into(),
                },
                Finding {
                    rule: "rows-per-call".into(),
                    severity: Severity::Warning,
                    fingerprint: Fingerprint(0x2222),
                    queryids: vec![0x2222 * 7],
                    database: Some("app".into()),
                    user: None,
                    message:
                        "25000 rows per call is over 1000 (12 calls, 300000 rows)\r\n100% sure"
                            .into(),
                    help: "add LIMIT, a: b, c".into(),
                    evidence: ev(&[("rows_per_call", 25000.0)]),
                    query: q2.into(),
                },
                Finding {
                    rule: "new-query-shape".into(),
                    severity: Severity::Info,
                    fingerprint: Fingerprint(0x3333),
                    queryids: vec![],
                    database: Some("app".into()),
                    user: None,
                    message: "new query shape: 48 calls, mean 800 µs, not in baseline main.json"
                        .into(),
                    help: "review it".into(),
                    evidence: ev(&[("calls", 48.0), ("mean_ms", 0.8)]),
                    query: q3.replace('\n', " "),
                },
            ],
            ignored: vec![Ignored {
                rule: "slow-mean-time".into(),
                fingerprint: Fingerprint(0x4444),
            }],
            shapes: vec![
                shape(0x1111, 5, 200.4, q1),
                shape(0x2222, 12, 300.0, q2),
                shape(0x3333, 48, 0.8, q3),
                shape(0x4444, 3, 500.0, "SELECT report()"),
            ],
        }
    }

    pub fn options() -> super::RenderOptions {
        super::RenderOptions {
            path: Some("rules/default.yaml".into()),
            rules_text: "version: 1\nrules:\n  slow-mean-time:\n    max_mean_ms: 100\n  rows-per-call:\n    min_calls: 3\n".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_line() {
        let r = fixture::report();
        assert_eq!(
            verdict(&r),
            "check failed: 1 error, 1 warning, 1 info in 4 query shapes (3 rules)"
        );
    }

    #[test]
    fn json_snapshot_and_round_trip() {
        let r = fixture::report();
        let text = render(&r, CheckFormat::Json, &fixture::options());
        insta::assert_snapshot!(text);
        let back: Report = serde_json::from_str(&text).expect("report JSON reads back");
        assert_eq!(back, r);
        // And it serves as a baseline.
        let b = crate::check::baseline::Baseline::from_json(&text, "r.json").expect("baseline");
        assert_eq!(b.shapes.len(), 4);
    }
}
