//! Live EXPLAIN: run the statement on a server and read back its JSON plan.
//! Everything happens in one transaction that is always rolled back, with
//! `statement_timeout` set locally (`set_config(…, true)` is `SET LOCAL`
//! with a bind parameter). Statements that only read are run with ANALYZE
//! in a READ ONLY transaction, so even a misjudged one cannot write;
//! statements that write get ANALYZE only when the caller allows it.

use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sqlparser::ast::{Expr, Query, SetExpr, Statement, visit_expressions};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::conn::PgTarget;

const SET_TIMEOUT: &str = include_str!("../../sql/explain_statement_timeout.sql");
const READ_ONLY: &str = include_str!("../../sql/explain_read_only.sql");
const ANALYZE_PREFIX: &str = include_str!("../../sql/explain_analyze_prefix.sql");
const PLAN_PREFIX: &str = include_str!("../../sql/explain_plan_prefix.sql");

/// Functions that write or have side effects even inside a SELECT.
const WRITING_FUNCTIONS: &[&str] = &[
    "nextval",
    "setval",
    "set_config",
    "pg_notify",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_try_advisory_lock",
    "pg_try_advisory_xact_lock",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_create",
    "dblink_exec",
    "txid_current",
    "pg_current_xact_id",
];

/// How the statement will be explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// EXPLAIN ANALYZE in a READ ONLY transaction.
    AnalyzeReadOnly,
    /// EXPLAIN ANALYZE of a writing statement, rolled back (`--analyze-writes`).
    AnalyzeRolledBack,
    /// EXPLAIN without ANALYZE: the statement is not run.
    PlanOnly,
}

/// Whether a statement only reads: a plain query without data-modifying
/// CTEs, `SELECT INTO`, row locks or functions known to write.
pub fn is_read_only(sql: &str) -> Result<bool> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| anyhow!("cannot parse the statement to explain: {e}"))?;
    let [statement] = statements.as_slice() else {
        bail!(
            "expected exactly one statement to explain, found {}",
            statements.len()
        );
    };
    let Statement::Query(query) = statement else {
        return Ok(false);
    };
    if !query_reads_only(query) {
        return Ok(false);
    }
    let mut writes = false;
    let _ = visit_expressions(statement, |e| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_lowercase();
            let base = name.rsplit('.').next().unwrap_or(&name).trim_matches('"');
            if WRITING_FUNCTIONS.contains(&base) {
                writes = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    Ok(!writes)
}

fn query_reads_only(q: &Query) -> bool {
    if !q.locks.is_empty() {
        return false;
    }
    if let Some(with) = &q.with
        && !with.cte_tables.iter().all(|c| query_reads_only(&c.query))
    {
        return false;
    }
    set_expr_reads_only(&q.body)
}

fn set_expr_reads_only(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => s.into.is_none(),
        SetExpr::Query(q) => query_reads_only(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_reads_only(left) && set_expr_reads_only(right)
        }
        SetExpr::Values(_) | SetExpr::Table(_) => true,
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => false,
    }
}

/// Decide the mode for a statement.
pub fn mode_for(sql: &str, analyze_writes: bool, no_analyze: bool) -> Result<Mode> {
    if no_analyze {
        // Still parse it: one statement only.
        is_read_only(sql)?;
        return Ok(Mode::PlanOnly);
    }
    Ok(if is_read_only(sql)? {
        Mode::AnalyzeReadOnly
    } else if analyze_writes {
        Mode::AnalyzeRolledBack
    } else {
        Mode::PlanOnly
    })
}

/// Run EXPLAIN and return its JSON text. The transaction is rolled back
/// whatever happens.
pub async fn explain(
    target: &PgTarget,
    sql: &str,
    mode: Mode,
    timeout: Duration,
) -> Result<String> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let mut client = target.connect().await?;
    let tx = client
        .transaction()
        .await
        .with_context(|| format!("cannot start a transaction on {}", target.display))?;
    if mode == Mode::AnalyzeReadOnly {
        tx.batch_execute(READ_ONLY)
            .await
            .context("cannot make the transaction read-only")?;
    }
    let ms = format!("{}ms", timeout.as_millis().max(1));
    tx.query(SET_TIMEOUT.trim(), &[&ms])
        .await
        .context("cannot set statement_timeout")?;
    let prefix = match mode {
        Mode::PlanOnly => PLAN_PREFIX,
        _ => ANALYZE_PREFIX,
    };
    let statement = format!("{} {sql}", prefix.trim());
    let result = tx.simple_query(&statement).await;
    // Roll back before judging the result: nothing the statement did stays.
    let rollback = tx.rollback().await;
    let messages = result.map_err(|e| {
        let timed_out = e
            .as_db_error()
            .is_some_and(|d| d.code() == &tokio_postgres::error::SqlState::QUERY_CANCELED);
        if timed_out {
            anyhow!(
                "EXPLAIN ANALYZE ran longer than the timeout ({}) and was cancelled: raise --timeout, or use --no-analyze for the plan alone",
                humantime::format_duration(timeout)
            )
        } else {
            let detail = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            anyhow!("EXPLAIN failed on {}: {detail}", target.display)
        }
    })?;
    rollback.context("cannot roll back the EXPLAIN transaction")?;
    let mut out = String::new();
    for m in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = m
            && let Some(text) = row.get(0)
        {
            out.push_str(text);
            out.push('\n');
        }
    }
    if out.trim().is_empty() {
        bail!("EXPLAIN returned no plan");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_detection() {
        let ro = |s: &str| is_read_only(s).expect("parses");
        assert!(ro("SELECT * FROM app.customers WHERE id = 1"));
        assert!(ro("WITH x AS (SELECT 1) SELECT * FROM x UNION SELECT 2"));
        assert!(!ro("SELECT * FROM app.customers FOR UPDATE"));
        assert!(!ro("SELECT nextval('s')"));
        assert!(!ro("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"));
        assert!(!ro("SELECT * INTO new_t FROM t"));
        assert!(!ro("UPDATE t SET a = 1"));
        assert!(!ro("INSERT INTO t VALUES (1)"));
        assert!(is_read_only("SELECT 1; SELECT 2").is_err());
    }
}
