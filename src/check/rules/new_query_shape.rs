//! `new-query-shape`: a query shape the baseline never saw.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::output::duration_ms;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "new-query-shape",
    summary: "A query shape that is not in the baseline",
    what: "With `--baseline`, fires for every query shape (by fingerprint) that the baseline does \
not contain, once it has run at least `min_calls` times. Literal values and IN-list lengths do \
not make a new shape; a new column, join or filter does.",
    why: "A change that adds queries to the request path deserves a look in review even when each \
one is fast today: a new shape is where a missing index, an N+1 loop or an unbounded result \
first appears. Listing them in the pull request makes the database side of a change visible.",
    example: "```text\nwarning[new-query-shape] new query shape: 48 calls, mean 800 µs, not in \
baseline main.json\n```",
    fix: "Review the query: does it use an index (`pgadvisor explain`)? Is it called once per \
request, not once per row? When it is expected, nothing to do: the next baseline includes it. Set \
`severity: info` to list new shapes without a warning.",
    references: &["docs/check.md, section \"Baselines\""],
};

/// `rules: new-query-shape:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// New shapes with fewer calls are not reported (one-off console queries).
    pub min_calls: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            min_calls: 5,
        }
    }
}

pub struct NewQueryShape;

impl Rule for NewQueryShape {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.new_query_shape;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.new_query_shape, ctx, shape)
    }
    fn needs_baseline(&self) -> bool {
        true
    }
}

pub fn check(s: &Settings, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    let baseline = ctx.baseline?;
    if shape.calls < s.min_calls || baseline.get(&shape.fingerprint).is_some() {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "new query shape: {}, mean {}, not in baseline {}",
                calls(shape.calls),
                duration_ms(shape.mean_exec_time),
                baseline.origin
            ),
            "review it: does it use an index (pgadvisor explain), is it called once per \
             request rather than once per row?",
        )
        .with("calls", shape.calls as f64)
        .with("mean_ms", shape.mean_exec_time),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::baseline::{Baseline, BaselineShape};
    use crate::check::rules::fixture::shape;

    fn baseline_with(sh: &QueryShape) -> Baseline {
        let mut b = Baseline {
            kind: "report".into(),
            origin: "main.json".into(),
            ..Baseline::default()
        };
        b.shapes.insert(
            sh.fingerprint,
            BaselineShape {
                calls: 10,
                total_exec_time: 10.0,
                query: sh.query.clone(),
            },
        );
        b
    }

    #[test]
    fn new_query_shape_ok() {
        let known = shape("SELECT * FROM t WHERE id = $1", 48, 0.8);
        let b = baseline_with(&known);
        let ctx = Ctx {
            baseline: Some(&b),
            total_exec_time: 1e6,
        };
        assert_eq!(check(&Settings::default(), &ctx, &known), None);
        // New but too rare to report.
        let rare = shape("SELECT 2", 2, 0.1);
        assert_eq!(check(&Settings::default(), &ctx, &rare), None);
        // No baseline, no verdict.
        let no = Ctx {
            baseline: None,
            total_exec_time: 1e6,
        };
        assert_eq!(check(&Settings::default(), &no, &rare), None);
    }

    #[test]
    fn new_query_shape_err() {
        let b = baseline_with(&shape("SELECT 1", 10, 1.0));
        let ctx = Ctx {
            baseline: Some(&b),
            total_exec_time: 1e6,
        };
        let hit = check(
            &Settings::default(),
            &ctx,
            &shape("SELECT * FROM t WHERE id = $1", 48, 0.8),
        )
        .expect("fires");
        assert_eq!(
            hit.message,
            "new query shape: 48 calls, mean 800 µs, not in baseline main.json"
        );
    }
}
