//! `mean-time-regression`: a query shape got slower than in the baseline.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity};
use crate::normalize::Fingerprint;
use crate::output::duration_ms;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "mean-time-regression",
    summary: "A query's mean execution time went up by more than a ratio since the baseline",
    what: "With `--baseline`, fires when a query shape's mean execution time is more than `ratio` \
times its mean in the baseline (matched by fingerprint). To keep noise from failing a build, \
both runs need at least `min_calls` calls, and the current mean must be at least `min_mean_ms` \
(a query going from 0.05 ms to 0.12 ms is jitter, not a regression).",
    why: "A query that doubles its time after a change has usually lost an index, gained a join, \
or started reading more rows: the plan changed. Caught in CI, it is a one-line review comment; \
caught in production, it is an incident once the table is big.",
    example: "```text\nerror[mean-time-regression] mean execution time 48.2 ms is 3.4× the \
baseline's 14.1 ms (820 calls now, 790 in baseline.json)\n```",
    fix: "Compare the plans of the two versions (`pgadvisor explain` on the query from both \
branches): look for an index that is no longer used, a new sequential scan or sort, a changed \
join order. If the slowdown is expected (the query now does more work on purpose), refresh the \
baseline.",
    references: &[
        "docs/check.md, section \"Baselines\"",
        "[Using EXPLAIN](https://www.postgresql.org/docs/current/using-explain.html)",
    ],
};

/// `rules: mean-time-regression:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Current mean / baseline mean above which it fires.
    pub ratio: f64,
    /// Calls required in both the baseline and the current run.
    pub min_calls: i64,
    /// The current mean must be at least this, milliseconds.
    pub min_mean_ms: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Error,
            ignore: Vec::new(),
            ratio: 2.0,
            min_calls: 20,
            min_mean_ms: 1.0,
        }
    }
}

pub struct MeanTimeRegression;

impl Rule for MeanTimeRegression {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.mean_time_regression;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.mean_time_regression, ctx, shape)
    }
    fn needs_baseline(&self) -> bool {
        true
    }
}

pub fn check(s: &Settings, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    let baseline = ctx.baseline?;
    let before = baseline.get(&shape.fingerprint)?;
    if shape.calls < s.min_calls || before.calls < s.min_calls {
        return None;
    }
    let now = shape.mean_exec_time;
    let then = before.mean_exec_time();
    if now < s.min_mean_ms || then <= 0.0 || now <= then * s.ratio {
        return None;
    }
    let ratio = now / then;
    Some(
        Hit::new(
            format!(
                "mean execution time {} is {ratio:.1}× the baseline's {} ({} calls now, {} in {})",
                duration_ms(now),
                duration_ms(then),
                shape.calls,
                before.calls,
                baseline.origin
            ),
            "compare the plans before and after the change (pgadvisor explain); refresh the \
             baseline if the slowdown is intended",
        )
        .with("mean_ms", now)
        .with("baseline_mean_ms", then)
        .with("ratio", ratio)
        .with("max_ratio", s.ratio)
        .with("calls", shape.calls as f64)
        .with("baseline_calls", before.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::baseline::{Baseline, BaselineShape};
    use crate::check::rules::fixture::shape;

    fn baseline(sh: &QueryShape, calls: i64, mean: f64) -> Baseline {
        let mut b = Baseline {
            kind: "report".into(),
            origin: "baseline.json".into(),
            ..Baseline::default()
        };
        b.shapes.insert(
            sh.fingerprint,
            BaselineShape {
                calls,
                total_exec_time: mean * calls as f64,
                query: sh.query.clone(),
            },
        );
        b
    }

    fn run(b: &Baseline, sh: &QueryShape) -> Option<Hit> {
        let ctx = Ctx {
            baseline: Some(b),
            total_exec_time: 1e6,
        };
        check(&Settings::default(), &ctx, sh)
    }

    #[test]
    fn mean_time_regression_ok() {
        let now = shape("SELECT 1", 820, 20.0);
        // 1.4× slower: under the ratio.
        assert_eq!(run(&baseline(&now, 790, 14.1), &now), None);
        // 3× slower but too few calls in the baseline.
        assert_eq!(run(&baseline(&now, 5, 6.0), &now), None);
        // 10× slower but still sub-millisecond: jitter.
        let fast = shape("SELECT 2", 820, 0.5);
        assert_eq!(run(&baseline(&fast, 790, 0.05), &fast), None);
        // Not in the baseline: new-query-shape's business, not a regression.
        let other = shape("SELECT * FROM another_table", 820, 50.0);
        assert_eq!(run(&baseline(&now, 790, 1.0), &other), None);
    }

    #[test]
    fn mean_time_regression_err() {
        let now = shape("SELECT 1", 820, 48.2);
        let hit = run(&baseline(&now, 790, 14.1), &now).expect("fires");
        assert_eq!(
            hit.message,
            "mean execution time 48.2 ms is 3.4× the baseline's 14.1 ms (820 calls now, 790 in \
             baseline.json)"
        );
        assert_eq!(hit.evidence["baseline_calls"], 790.0);
    }
}
