//! `slow-mean-time`: a query shape whose average execution is too slow.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::output::duration_ms;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "slow-mean-time",
    summary: "A query's mean execution time is over a threshold",
    what: "Fires when a query shape's mean execution time (`total_exec_time / calls` in \
pg_stat_statements) is above `max_mean_ms`, once the shape has run at least `min_calls` times.",
    why: "In a web application every statement runs inside a request someone is waiting for. A \
statement that averages over 100 ms on its own uses up most of a typical page's time budget, and \
under load it holds a connection (and often row locks) long enough to queue everything behind it. \
The mean, unlike the max, is not a single unlucky run: the shape is slow every time.",
    example: "A dashboard query that filters on an unindexed column:\n\n\
```sql\nSELECT * FROM app.bookings WHERE customer_id = $1 ORDER BY starts_at DESC\n```\n\n\
with `calls = 120`, `mean_exec_time = 182.4` gives\n\n\
```text\nerror[slow-mean-time] mean execution time 182.4 ms is over 100.0 ms (120 calls)\n```",
    fix: "Run `pgadvisor explain` on the query (or `EXPLAIN (ANALYZE, BUFFERS)` with real \
parameters) and look for sequential scans over large tables and sorts; `pgadvisor advise` \
proposes indexes validated with HypoPG. If the query is a legitimately slow report, move it off \
the request path or add its fingerprint to the rule's `ignore` list.",
    references: &[
        "[pg_stat_statements](https://www.postgresql.org/docs/current/pgstatstatements.html)",
        "[Using EXPLAIN](https://www.postgresql.org/docs/current/using-explain.html)",
    ],
};

/// `rules: slow-mean-time:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    /// Fingerprints this rule never reports.
    pub ignore: Vec<Fingerprint>,
    /// Mean execution time above which the rule fires, milliseconds.
    pub max_mean_ms: f64,
    /// Shapes with fewer calls are not judged (one cold run is noise).
    pub min_calls: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Error,
            ignore: Vec::new(),
            max_mean_ms: 100.0,
            min_calls: 3,
        }
    }
}

pub struct SlowMeanTime;

impl Rule for SlowMeanTime {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.slow_mean_time;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.slow_mean_time, ctx, shape)
    }
}

pub fn check(s: &Settings, _ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    if shape.calls < s.min_calls || shape.mean_exec_time <= s.max_mean_ms {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "mean execution time {} is over {} ({})",
                duration_ms(shape.mean_exec_time),
                duration_ms(s.max_mean_ms),
                calls(shape.calls)
            ),
            "run `pgadvisor explain` on it and `pgadvisor advise` for indexes; \
             see `pgadvisor rule slow-mean-time`",
        )
        .with("mean_ms", shape.mean_exec_time)
        .with("max_mean_ms", s.max_mean_ms)
        .with("calls", shape.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn slow_mean_time_ok() {
        let s = Settings::default();
        assert_eq!(check(&s, &ctx(1e6), &shape("SELECT 1", 1000, 2.0)), None);
        // Slow but run too rarely to judge.
        assert_eq!(check(&s, &ctx(1e6), &shape("SELECT 1", 2, 500.0)), None);
        // Exactly at the threshold passes.
        assert_eq!(check(&s, &ctx(1e6), &shape("SELECT 1", 10, 100.0)), None);
    }

    #[test]
    fn slow_mean_time_err() {
        let s = Settings::default();
        let hit = check(&s, &ctx(1e6), &shape("SELECT pg_sleep($1)", 5, 200.4))
            .expect("a 200 ms mean fires");
        assert_eq!(
            hit.message,
            "mean execution time 200.4 ms is over 100.0 ms (5 calls)"
        );
        assert_eq!(hit.evidence["mean_ms"], 200.4);
        assert_eq!(hit.evidence["calls"], 5.0);
    }
}
