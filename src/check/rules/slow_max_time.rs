//! `slow-max-time`: a query shape with at least one very slow execution.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::output::duration_ms;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "slow-max-time",
    summary: "A query's slowest execution is over a threshold",
    what: "Fires when a query shape's `max_exec_time` is above `max_ms`, once the shape has run \
at least `min_calls` times.",
    why: "A web request usually times out after a few seconds (proxies default to 30 to 60 s, \
users give up sooner). A statement that has taken over 1 s at least once shows a plan that \
sometimes goes wrong: a rare parameter value, a lock wait, a cold cache. Such outliers are \
invisible in the mean. The rule ships as a warning because one slow run can be bad luck.",
    example: "```text\nwarning[slow-max-time] slowest execution 2.31 s is over 1.00 s (mean 4.2 ms, \
812 calls)\n```",
    fix: "Look for parameter values that select much more data than usual (skewed columns, a \
tenant far bigger than the others) and for lock waits (`log_lock_waits = on`); set \
`statement_timeout` for request-path roles so an outlier fails fast instead of piling up \
connections.",
    references: &[
        "[pg_stat_statements](https://www.postgresql.org/docs/current/pgstatstatements.html)",
        "[statement_timeout](https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-STATEMENT-TIMEOUT)",
    ],
};

/// `rules: slow-max-time:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Slowest single execution above which the rule fires, milliseconds.
    pub max_ms: f64,
    pub min_calls: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            max_ms: 1000.0,
            min_calls: 1,
        }
    }
}

pub struct SlowMaxTime;

impl Rule for SlowMaxTime {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.slow_max_time;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.slow_max_time, ctx, shape)
    }
}

pub fn check(s: &Settings, _ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    if shape.calls < s.min_calls || shape.max_exec_time <= s.max_ms {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "slowest execution {} is over {} (mean {}, {})",
                duration_ms(shape.max_exec_time),
                duration_ms(s.max_ms),
                duration_ms(shape.mean_exec_time),
                calls(shape.calls)
            ),
            "find the parameter values or lock waits behind the outlier; set statement_timeout \
             for request-path roles",
        )
        .with("max_ms", shape.max_exec_time)
        .with("threshold_ms", s.max_ms)
        .with("mean_ms", shape.mean_exec_time)
        .with("calls", shape.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn slow_max_time_ok() {
        let mut sh = shape("SELECT 1", 100, 2.0);
        sh.max_exec_time = 999.0;
        assert_eq!(check(&Settings::default(), &ctx(1e6), &sh), None);
    }

    #[test]
    fn slow_max_time_err() {
        let mut sh = shape("SELECT 1", 812, 4.2);
        sh.max_exec_time = 2310.0;
        let hit = check(&Settings::default(), &ctx(1e6), &sh).expect("fires");
        assert_eq!(
            hit.message,
            "slowest execution 2.31 s is over 1.00 s (mean 4.2 ms, 812 calls)"
        );
        assert_eq!(hit.evidence["max_ms"], 2310.0);
    }
}
