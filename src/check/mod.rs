//! `pgadvisor check`: judge a workload's query shapes against rules and
//! say whether CI should pass. This module owns the rules (`rules/`, one
//! file each), their YAML settings (`config`), the previous run to compare
//! with (`baseline`), the evaluation itself and the report formats
//! (`format/`). It never reads a database or a file of statistics: the
//! command hands it `QueryShape`s that intake produced.

pub mod baseline;
pub mod config;
pub mod finding;
pub mod format;
pub mod report;
pub mod rules;

use baseline::Baseline;
use config::Config;
use finding::{Finding, QUERY_TEXT_MAX, Severity};
use rules::{Ctx, REGISTRY};

use crate::normalize::Fingerprint;
use crate::shapes::QueryShape;

/// What an evaluation produced, before it becomes a [`report::Report`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// Most severe first, then in registry order, then by the shape's total time.
    pub findings: Vec<Finding>,
    /// Ids of the rules that ran (enabled, and with a baseline when they need one).
    pub rules: Vec<&'static str>,
    /// (rule id, fingerprint) pairs skipped because the rules file ignores them.
    pub ignored: Vec<(&'static str, Fingerprint)>,
}

impl Evaluation {
    /// Whether the build fails: any finding at `error` severity.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Run every enabled rule over every shape.
/// Fold EXPLAIN findings of one file into an evaluation. Each is named by
/// rule, file, plan and node; its fingerprint is that name's hash, stable
/// across runs so CI systems can track it.
pub fn add_explain_findings(
    eval: &mut Evaluation,
    path: &std::path::Path,
    found: Vec<crate::explain::Finding>,
) {
    for f in found {
        let place = format!(
            "{} plan {}{}",
            path.display(),
            f.plan,
            f.node
                .as_deref()
                .map(|n| format!(", {n}"))
                .unwrap_or_default()
        );
        let fingerprint = Fingerprint(xxhash_rust::xxh3::xxh3_64(
            format!("explain\n{}\n{place}", f.rule).as_bytes(),
        ));
        if !eval.rules.contains(&"explain") {
            eval.rules.push("explain");
        }
        let mut help = f.fix.clone();
        if let Some(sql) = &f.sql {
            help.push_str(&format!(": {sql}"));
        }
        eval.findings.push(Finding {
            rule: format!("explain/{}", f.rule),
            severity: f.severity,
            fingerprint,
            queryids: Vec::new(),
            database: None,
            user: None,
            message: f.message.clone(),
            help,
            evidence: f.figures.clone().into_iter().collect(),
            query: place,
        });
    }
    eval.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
}

pub fn evaluate(shapes: &[QueryShape], baseline: Option<&Baseline>, config: &Config) -> Evaluation {
    let ctx = Ctx {
        baseline,
        total_exec_time: shapes.iter().map(|s| s.total_exec_time.max(0.0)).sum(),
    };
    let mut eval = Evaluation::default();
    // (registry position, total time) for ordering findings.
    let mut keyed: Vec<(usize, f64, Finding)> = Vec::new();
    for (pos, rule) in REGISTRY.iter().enumerate() {
        let common = rule.common(config);
        if !common.enabled || (rule.needs_baseline() && baseline.is_none()) {
            continue;
        }
        eval.rules.push(rule.id());
        for shape in shapes {
            let fp = shape.fingerprint;
            if config.ignore.contains(&fp) || common.ignore.contains(&fp) {
                eval.ignored.push((rule.id(), fp));
                continue;
            }
            if let Some(hit) = rule.check(config, &ctx, shape) {
                let finding = Finding {
                    rule: rule.id().to_string(),
                    severity: common.severity,
                    fingerprint: fp,
                    queryids: shape.queryids.clone(),
                    database: shape.database.clone(),
                    user: shape.user.clone(),
                    message: hit.message,
                    help: hit.help,
                    evidence: hit.evidence,
                    query: crate::output::shorten(&shape.query, QUERY_TEXT_MAX),
                };
                keyed.push((pos, shape.total_exec_time, finding));
            }
        }
    }
    keyed.sort_by(|a, b| {
        b.2.severity
            .cmp(&a.2.severity)
            .then(a.0.cmp(&b.0))
            .then(b.1.total_cmp(&a.1))
            .then(a.2.fingerprint.cmp(&b.2.fingerprint))
    });
    eval.findings = keyed.into_iter().map(|(_, _, f)| f).collect();
    eval
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::shape;

    #[test]
    fn slow_query_fails_and_fast_one_passes() {
        let shapes = vec![
            shape("SELECT * FROM t WHERE id = $1", 1000, 0.4),
            shape("SELECT pg_sleep($1)", 5, 200.0),
        ];
        let eval = evaluate(&shapes, None, &Config::builtin());
        assert!(eval.has_errors());
        assert_eq!(eval.findings[0].rule, "slow-mean-time");
        assert_eq!(eval.findings[0].fingerprint, shapes[1].fingerprint);
        assert_eq!(eval.findings[0].queryids, vec![42]);
        // Baseline rules do not run without a baseline.
        assert!(!eval.rules.contains(&"new-query-shape"));
        assert!(eval.rules.contains(&"slow-mean-time"));
    }

    #[test]
    fn ignore_lists_and_disabled_rules_silence_findings() {
        let slow = shape("SELECT pg_sleep($1)", 5, 200.0);
        let shapes = vec![slow.clone()];
        let mut config = Config::builtin();
        config.ignore.push(slow.fingerprint);
        let eval = evaluate(&shapes, None, &config);
        assert!(!eval.has_errors(), "{:?}", eval.findings);
        assert!(eval.ignored.contains(&("slow-mean-time", slow.fingerprint)));

        let mut config = Config::builtin();
        config.rules.slow_mean_time.ignore.push(slow.fingerprint);
        assert!(!evaluate(&shapes, None, &config).has_errors());

        let mut config = Config::builtin();
        config.rules.slow_mean_time.enabled = false;
        let eval = evaluate(&shapes, None, &config);
        assert!(!eval.rules.contains(&"slow-mean-time"));
        assert!(!eval.has_errors());

        let mut config = Config::builtin();
        config.rules.slow_mean_time.severity = Severity::Warning;
        let eval = evaluate(&shapes, None, &config);
        assert!(!eval.has_errors());
        assert_eq!(eval.findings[0].severity, Severity::Warning);
    }

    #[test]
    fn findings_are_ordered_by_severity_then_rule_then_time() {
        let mut big = shape("SELECT * FROM big", 10, 150.0);
        big.rows = 10 * 5000;
        let shapes = vec![shape("SELECT 1", 10, 120.0), big.clone()];
        let eval = evaluate(&shapes, None, &Config::builtin());
        let order: Vec<(&str, Fingerprint)> = eval
            .findings
            .iter()
            .map(|f| (f.rule.as_str(), f.fingerprint))
            .collect();
        assert_eq!(order[0], ("slow-mean-time", big.fingerprint));
        assert_eq!(order[1], ("slow-mean-time", shapes[0].fingerprint));
        assert!(order.contains(&("rows-per-call", big.fingerprint)));
        assert_eq!(
            eval.findings.last().map(|f| f.severity),
            Some(Severity::Warning)
        );
    }
}
