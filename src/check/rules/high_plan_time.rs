//! `high-plan-time`: planning a query costs too much per call.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::output::duration_ms;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "high-plan-time",
    summary: "Planning a query takes too long per call",
    what: "Fires when a query shape's mean planning time (`total_plan_time / calls`) is above \
`max_mean_plan_ms`, once it has run at least `min_calls` times. pg_stat_statements records \
planning time only with `pg_stat_statements.track_planning = on`; without it planning time is \
0 and the rule never fires.",
    why: "Web frameworks often send each statement unprepared, so the planner runs on every \
request. Queries over many partitions, many joins (past `join_collapse_limit`) or large IN lists \
can spend longer planning than executing, a cost no index removes.",
    example: "```text\nwarning[high-plan-time] mean planning time 24.8 ms is over 10.0 ms \
(execution 3.1 ms, 5120 calls)\n```",
    fix: "Use prepared statements (most drivers can: e.g. `prepareThreshold` in pgJDBC, \
`prepare: true` in many ORMs) so the plan is reused; prune partitions with constant keys; replace \
long IN lists with `= ANY($1)` and an array parameter.",
    references: &[
        "[pg_stat_statements.track_planning](https://www.postgresql.org/docs/current/pgstatstatements.html#PGSTATSTATEMENTS-CONFIG-PARAMS)",
        "[PREPARE](https://www.postgresql.org/docs/current/sql-prepare.html)",
    ],
};

/// `rules: high-plan-time:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Mean planning time above which it fires, milliseconds.
    pub max_mean_plan_ms: f64,
    pub min_calls: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            max_mean_plan_ms: 10.0,
            min_calls: 3,
        }
    }
}

pub struct HighPlanTime;

impl Rule for HighPlanTime {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.high_plan_time;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.high_plan_time, ctx, shape)
    }
}

pub fn check(s: &Settings, _ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    if shape.calls < s.min_calls || shape.calls <= 0 {
        return None;
    }
    let mean_plan = shape.total_plan_time / shape.calls as f64;
    if mean_plan <= s.max_mean_plan_ms {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "mean planning time {} is over {} (execution {}, {})",
                duration_ms(mean_plan),
                duration_ms(s.max_mean_plan_ms),
                duration_ms(shape.mean_exec_time),
                calls(shape.calls)
            ),
            "use prepared statements so plans are reused; prune partitions; \
             replace long IN lists with = ANY($1)",
        )
        .with("mean_plan_ms", mean_plan)
        .with("max_mean_plan_ms", s.max_mean_plan_ms)
        .with("mean_exec_ms", shape.mean_exec_time)
        .with("calls", shape.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn high_plan_time_ok() {
        let mut sh = shape("SELECT 1", 100, 2.0);
        sh.total_plan_time = 100.0 * 0.3;
        assert_eq!(check(&Settings::default(), &ctx(1e6), &sh), None);
    }

    #[test]
    fn high_plan_time_err() {
        let mut sh = shape("SELECT 1", 5120, 3.1);
        sh.total_plan_time = 5120.0 * 24.8;
        let hit = check(&Settings::default(), &ctx(1e6), &sh).expect("fires");
        assert_eq!(
            hit.message,
            "mean planning time 24.8 ms is over 10.0 ms (execution 3.1 ms, 5120 calls)"
        );
    }
}
