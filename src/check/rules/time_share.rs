//! `time-share`: one query shape takes too large a share of all execution time.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::output::duration_ms;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "time-share",
    summary: "One query takes too large a share of the workload's execution time",
    what: "Fires when a query shape's `total_exec_time` is more than `max_share_pct` percent of \
the execution time of all shapes in the workload, once the shape has run at least `min_calls` \
times and spent at least `min_total_ms` in total (so a nearly idle database does not fail).",
    why: "When one statement dominates the database's time, it is where an index or a cache pays \
off most, and the first thing to saturate the server when traffic grows. Each call may be fast: \
a 2 ms lookup run on every request can still be 60% of the load.",
    example: "```text\nwarning[time-share] 63.2% of all execution time (1m 12s of 1m 54s, 48211 calls, \
mean 1.5 ms)\n```",
    fix: "Make each call cheaper (`pgadvisor advise`), call it less often (cache the result: \
`pgadvisor cache`; batch N+1 loops into one query), or accept it as the application's main query \
by raising `max_share_pct` or ignoring its fingerprint.",
    references: &[
        "[pg_stat_statements](https://www.postgresql.org/docs/current/pgstatstatements.html)",
    ],
};

/// `rules: time-share:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Share of the workload's total execution time above which it fires, percent.
    pub max_share_pct: f64,
    pub min_calls: i64,
    /// The shape's own total execution time must be at least this, milliseconds.
    pub min_total_ms: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            max_share_pct: 50.0,
            min_calls: 10,
            min_total_ms: 1000.0,
        }
    }
}

pub struct TimeShare;

impl Rule for TimeShare {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.time_share;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.time_share, ctx, shape)
    }
}

pub fn check(s: &Settings, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    if ctx.total_exec_time <= 0.0
        || shape.calls < s.min_calls
        || shape.total_exec_time < s.min_total_ms
    {
        return None;
    }
    let share = 100.0 * shape.total_exec_time / ctx.total_exec_time;
    if share <= s.max_share_pct {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "{share:.1}% of all execution time ({} of {}, {}, mean {})",
                duration_ms(shape.total_exec_time),
                duration_ms(ctx.total_exec_time),
                calls(shape.calls),
                duration_ms(shape.mean_exec_time)
            ),
            "make each call cheaper (pgadvisor advise) or call it less often (cache, batch N+1 loops)",
        )
        .with("share_pct", share)
        .with("max_share_pct", s.max_share_pct)
        .with("total_ms", shape.total_exec_time)
        .with("workload_total_ms", ctx.total_exec_time)
        .with("calls", shape.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn time_share_ok() {
        let s = Settings::default();
        // 40% of the time: under the threshold.
        assert_eq!(
            check(&s, &ctx(10_000.0), &shape("SELECT 1", 2000, 2.0)),
            None
        );
        // 100% of a nearly idle database: under min_total_ms.
        assert_eq!(check(&s, &ctx(50.0), &shape("SELECT 1", 50, 1.0)), None);
    }

    #[test]
    fn time_share_err() {
        let hit = check(
            &Settings::default(),
            &ctx(10_000.0),
            &shape("SELECT 1", 4000, 1.5),
        )
        .expect("60% fires");
        assert_eq!(
            hit.message,
            "60.0% of all execution time (6.00 s of 10.00 s, 4000 calls, mean 1.5 ms)"
        );
        assert_eq!(hit.evidence["share_pct"], 60.0);
    }
}
