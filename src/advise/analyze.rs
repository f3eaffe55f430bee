//! `advise --analyze`: measured evidence for read-only queries with literal
//! samples. Each runs once under `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`
//! in a READ ONLY transaction that is rolled back, under a statement
//! timeout. What the estimates hide shows up here: the shared buffers a
//! query really touches (which the selection weighs, not only planner
//! cost), row misestimates of 100x or more, and scans that throw away most
//! of the rows they read.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlparser::ast::Statement;
use tokio_postgres::Client;

use super::select::AdviseQuery;
use super::workload::parse_for_advice;
use crate::normalize::Fingerprint;

const SESSION_SQL: &str = include_str!("../../sql/analyze_session.sql");

/// A misestimate this large (either way) is reported.
pub const MISESTIMATE_FACTOR: f64 = 100.0;
/// A scan that reads this many rows and discards this share of them is reported.
const WASTE_MIN_ROWS: f64 = 1000.0;
const WASTE_SHARE: f64 = 0.9;

/// What one EXPLAIN ANALYZE measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Shared buffers touched (hit + read), the work really done.
    pub buffers: f64,
    pub time_ms: f64,
    /// Findings about the plan (misestimates, wasted scans), one line each.
    pub notes: Vec<String>,
}

/// Whether a text may run under EXPLAIN ANALYZE: a plain SELECT with
/// literal values (no `$n`), no row locks and no data-modifying CTE.
pub fn eligible(text: &str) -> bool {
    if super::whatif::max_placeholder(text) > 0 {
        return false;
    }
    let Ok(stmt) = parse_for_advice(text) else {
        return false;
    };
    let Statement::Query(q) = &stmt else {
        return false;
    };
    if !q.locks.is_empty() {
        return false;
    }
    let writes_in_cte = q.with.as_ref().is_some_and(|w| {
        w.cte_tables.iter().any(|c| {
            !matches!(
                *c.query.body,
                sqlparser::ast::SetExpr::Select(_) | sqlparser::ast::SetExpr::Query(_)
            )
        })
    });
    // Row locks sqlparser cannot read (cut off by parse_for_advice) do not run
    // either; the READ ONLY transaction would refuse them anyway.
    let upper = text.to_ascii_uppercase();
    let locks = [
        " FOR UPDATE",
        " FOR NO KEY UPDATE",
        " FOR SHARE",
        " FOR KEY SHARE",
    ]
    .iter()
    .any(|k| upper.contains(k));
    !writes_in_cte && !locks
}

/// Measure every eligible query; a failure (timeout, error) becomes a note
/// on that query and the run goes on.
pub async fn measure(
    client: &Client,
    queries: &[AdviseQuery],
    timeout: std::time::Duration,
) -> Vec<(Fingerprint, Result<Measured, String>)> {
    let mut out = Vec::new();
    for q in queries.iter().filter(|q| eligible(&q.text)) {
        let r = measure_one(client, &q.text, timeout)
            .await
            .map_err(|e| format!("{e:#}"));
        out.push((q.fingerprint, r));
    }
    out
}

async fn measure_one(
    client: &Client,
    text: &str,
    timeout: std::time::Duration,
) -> Result<Measured> {
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .context("BEGIN READ ONLY")?;
    let result = async {
        let ms = format!("{}ms", timeout.as_millis().max(1));
        client
            .query_one(SESSION_SQL, &[&ms])
            .await
            .context("setting the statement timeout")?;
        // One parsed statement (checked by `eligible`), so the simple protocol runs nothing else.
        let v = super::whatif::explain_json(
            client,
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}"),
        )
        .await
        .context("EXPLAIN ANALYZE")?;
        evidence(&v)
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    result
}

/// Buffers, time and notes from an `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` result.
pub fn evidence(v: &serde_json::Value) -> Result<Measured> {
    let top = v.get(0).context("empty EXPLAIN output")?;
    let plan = top.get("Plan").context("EXPLAIN output without a Plan")?;
    let num = |n: &serde_json::Value, k: &str| n.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
    let buffers = num(plan, "Shared Hit Blocks") + num(plan, "Shared Read Blocks");
    let time_ms = top
        .get("Execution Time")
        .and_then(|x| x.as_f64())
        .unwrap_or_else(|| num(plan, "Actual Total Time"));
    let mut notes = Vec::new();
    let mut stack = vec![plan];
    while let Some(n) = stack.pop() {
        let kind = n.get("Node Type").and_then(|x| x.as_str()).unwrap_or("?");
        let rel = n.get("Relation Name").and_then(|x| x.as_str());
        let what = match rel {
            Some(r) => format!("{kind} on {r}"),
            None => kind.to_string(),
        };
        let loops = num(n, "Actual Loops").max(1.0);
        let actual = num(n, "Actual Rows") * loops;
        let est = num(n, "Plan Rows") * loops;
        let never = n.get("Actual Loops").and_then(|x| x.as_f64()) == Some(0.0);
        if !never && est.max(actual) >= 1000.0 {
            let ratio = (actual.max(1.0)) / (est.max(1.0));
            if ratio >= MISESTIMATE_FACTOR || ratio <= 1.0 / MISESTIMATE_FACTOR {
                notes.push(format!(
                    "{what}: estimated {est:.0} rows, got {actual:.0} ({}x off): statistics are stale or columns are correlated \
                     (ANALYZE the table, or CREATE STATISTICS on the filtered columns)",
                    (ratio.max(1.0 / ratio)).round()
                ));
            }
        }
        let removed = num(n, "Rows Removed by Filter") * loops;
        if removed >= WASTE_MIN_ROWS && removed / (removed + actual).max(1.0) >= WASTE_SHARE {
            notes.push(format!(
                "{what} read {:.0} rows and threw away {removed:.0} of them ({:.0}%)",
                removed + actual,
                100.0 * removed / (removed + actual)
            ));
        }
        if let Some(children) = n.get("Plans").and_then(|p| p.as_array()) {
            stack.extend(children.iter());
        }
    }
    Ok(Measured {
        buffers,
        time_ms,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_literal_queries_run() {
        assert!(eligible(
            "SELECT id FROM app.customers WHERE email = 'x@example.com'"
        ));
        assert!(!eligible("SELECT id FROM app.customers WHERE email = $1"));
        assert!(!eligible(
            "UPDATE app.customers SET status = 'x' WHERE id = 1"
        ));
        assert!(!eligible(
            "SELECT id FROM app.bookings WHERE id = 1 FOR UPDATE"
        ));
        assert!(!eligible(
            "WITH d AS (DELETE FROM app.bookings RETURNING id) SELECT count(*) FROM d"
        ));
        assert!(!eligible("SELECT 1; DELETE FROM app.bookings"));
        assert!(!eligible(
            "SELECT id FROM app.bookings WHERE id = 1 FOR NO KEY UPDATE SKIP LOCKED"
        ));
    }

    #[test]
    fn buffers_misestimates_and_waste() {
        let v: serde_json::Value = serde_json::from_str(
            r#"[{"Plan": {"Node Type": "Limit", "Plan Rows": 1, "Actual Rows": 1, "Actual Loops": 1,
                 "Shared Hit Blocks": 90, "Shared Read Blocks": 10, "Plans": [
                 {"Node Type": "Index Scan", "Relation Name": "customers", "Plan Rows": 5, "Actual Rows": 20000,
                  "Actual Loops": 1, "Rows Removed by Filter": 180000}]}, "Execution Time": 12.5}]"#,
        )
        .expect("json");
        let m = evidence(&v).expect("evidence");
        assert_eq!(m.buffers, 100.0);
        assert_eq!(m.time_ms, 12.5);
        assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
        assert!(
            m.notes.iter().any(|n| n.contains("4000x off")),
            "{:?}",
            m.notes
        );
        assert!(
            m.notes.iter().any(|n| n.contains("threw away 180000")),
            "{:?}",
            m.notes
        );
    }
}
