//! The check report: findings plus the per-shape statistics they were
//! judged on. Its JSON form (`--format json`) is versioned and doubles as
//! a `--baseline` for the next run, so `shapes` carries what the baseline
//! rules compare (calls and total time by fingerprint).

use serde::{Deserialize, Serialize};

use crate::check::Evaluation;
use crate::check::finding::{Finding, Severity};
use crate::normalize::Fingerprint;
use crate::shapes::QueryShape;

/// `kind` of a check report, which `--baseline` recognises.
pub const REPORT_KIND: &str = "pgadvisor-check-report";
/// Version of the report's JSON; bumped on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// A whole `check` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub kind: String,
    /// Where the workload came from (`live`, `csv`, `snapshot`, …) and its location.
    pub source: Option<crate::intake::Source>,
    /// The rules file used (`rules/default.yaml` when built in).
    pub rules_file: String,
    /// The baseline file, with `--baseline`.
    pub baseline: Option<String>,
    pub summary: Summary,
    /// Ids of the rules that ran.
    pub rules: Vec<String>,
    pub findings: Vec<Finding>,
    /// (rule, fingerprint) pairs the rules file told us to ignore.
    pub ignored: Vec<Ignored>,
    /// Every shape judged, by total execution time descending.
    pub shapes: Vec<ShapeStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// True when no finding is at `error` severity (the exit code is 0).
    pub passed: bool,
    pub shapes: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ignored {
    pub rule: String,
    pub fingerprint: Fingerprint,
}

/// The statistics of one shape a report keeps (and a baseline reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeStats {
    pub fingerprint: Fingerprint,
    pub queryids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub calls: i64,
    /// Milliseconds, like every time in the report.
    pub total_exec_time: f64,
    pub mean_exec_time: f64,
    pub max_exec_time: f64,
    pub total_plan_time: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub temp_blks_written: i64,
    /// The shape's query text as the source gave it.
    pub query: String,
}

impl From<&QueryShape> for ShapeStats {
    fn from(s: &QueryShape) -> Self {
        ShapeStats {
            fingerprint: s.fingerprint,
            queryids: s.queryids.clone(),
            database: s.database.clone(),
            user: s.user.clone(),
            calls: s.calls,
            total_exec_time: s.total_exec_time,
            mean_exec_time: s.mean_exec_time,
            max_exec_time: s.max_exec_time,
            total_plan_time: s.total_plan_time,
            rows: s.rows,
            shared_blks_hit: s.shared_blks_hit,
            shared_blks_read: s.shared_blks_read,
            temp_blks_written: s.temp_blks_written,
            query: s.query.clone(),
        }
    }
}

impl Report {
    pub fn new(
        eval: Evaluation,
        shapes: &[QueryShape],
        source: Option<crate::intake::Source>,
        rules_file: &str,
        baseline: Option<&str>,
    ) -> Report {
        let count = |sev| eval.findings.iter().filter(|f| f.severity == sev).count();
        let summary = Summary {
            passed: !eval.has_errors(),
            shapes: shapes.len(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
        };
        let mut stats: Vec<ShapeStats> = shapes.iter().map(ShapeStats::from).collect();
        stats.sort_by(|a, b| {
            b.total_exec_time
                .total_cmp(&a.total_exec_time)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        Report {
            version: REPORT_VERSION,
            kind: REPORT_KIND.to_string(),
            source,
            rules_file: rules_file.to_string(),
            baseline: baseline.map(str::to_string),
            summary,
            rules: eval.rules.iter().map(|r| r.to_string()).collect(),
            ignored: eval
                .ignored
                .iter()
                .map(|(rule, fp)| Ignored {
                    rule: rule.to_string(),
                    fingerprint: *fp,
                })
                .collect(),
            findings: eval.findings,
            shapes: stats,
        }
    }

    /// The line a finding of `rule` points at in CI annotations: the
    /// rule's settings in the rules file's text, else line 1.
    pub fn rule_line(rules_text: &str, rule: &str) -> usize {
        crate::check::config::line_of_key(rules_text, rule).unwrap_or(1)
    }
}
