//! `rows-per-call`: a query returns or touches far more rows per call than a page needs.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "rows-per-call",
    summary: "A query returns or changes too many rows per call",
    what: "Fires when a query shape's rows per call (`rows / calls`: rows returned by a SELECT, \
rows changed by INSERT/UPDATE/DELETE) is above `max_rows_per_call`, once it has run at least \
`min_calls` times.",
    why: "A web page shows tens of rows, not thousands. A statement that returns more than 1,000 \
rows per call is usually a missing LIMIT or pagination, an ORM loading a whole association, or a \
filter that stopped filtering; it grows with the data until it times out. An UPDATE or DELETE \
touching thousands of rows per call holds their locks for the whole statement.",
    example: "```text\nwarning[rows-per-call] 25000 rows per call is over 1000 (12 calls, 300000 \
rows)\n```",
    fix: "Add a LIMIT and keyset pagination (`WHERE (created_at, id) < ($1, $2) ORDER BY \
created_at DESC, id DESC LIMIT 50`), aggregate in SQL instead of in the application, and batch \
large UPDATE/DELETE into chunks.",
    references: &[
        "[LIMIT and OFFSET](https://www.postgresql.org/docs/current/queries-limit.html)",
        "[pg_stat_statements](https://www.postgresql.org/docs/current/pgstatstatements.html)",
    ],
};

/// `rules: rows-per-call:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Rows per call above which it fires.
    pub max_rows_per_call: f64,
    pub min_calls: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            max_rows_per_call: 1000.0,
            min_calls: 3,
        }
    }
}

pub struct RowsPerCall;

impl Rule for RowsPerCall {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.rows_per_call;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.rows_per_call, ctx, shape)
    }
}

pub fn check(s: &Settings, _ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    if shape.calls <= 0 || shape.calls < s.min_calls {
        return None;
    }
    let per_call = shape.rows as f64 / shape.calls as f64;
    if per_call <= s.max_rows_per_call {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "{per_call:.0} rows per call is over {} ({}, {} rows)",
                s.max_rows_per_call,
                calls(shape.calls),
                shape.rows
            ),
            "add LIMIT with keyset pagination, aggregate in SQL, or batch large writes",
        )
        .with("rows_per_call", per_call)
        .with("max_rows_per_call", s.max_rows_per_call)
        .with("rows", shape.rows as f64)
        .with("calls", shape.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn rows_per_call_ok() {
        let mut sh = shape("SELECT 1", 100, 2.0);
        sh.rows = 100 * 50;
        assert_eq!(check(&Settings::default(), &ctx(1e6), &sh), None);
    }

    #[test]
    fn rows_per_call_err() {
        let mut sh = shape("SELECT * FROM app.customers", 12, 300.0);
        sh.rows = 300_000;
        let hit = check(&Settings::default(), &ctx(1e6), &sh).expect("fires");
        assert_eq!(
            hit.message,
            "25000 rows per call is over 1000 (12 calls, 300000 rows)"
        );
    }
}
