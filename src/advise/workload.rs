//! From query shapes (and literal samples) to the queries advice works on:
//! which text the planner is asked about, which facts the candidates come
//! from, and which queries could not be analysed and why.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::extract::extract;
use super::select::AdviseQuery;
use crate::catalog::Catalog;
use crate::intake::QuerySample;
use crate::normalize::{Fingerprint, fingerprint};
use crate::shapes::QueryShape;

/// A query shape advice could not use, and why (never dropped silently).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotAnalyzed {
    pub fingerprint: Fingerprint,
    pub query: String,
    pub reason: String,
}

/// Filters on which shapes are worth advice (`--min-calls`, `--min-time`, `--top`).
#[derive(Debug, Clone, Default)]
pub struct ShapeFilter {
    pub min_calls: i64,
    pub min_total_time_ms: f64,
    pub top: Option<usize>,
}

/// Turn shapes into advice queries. A literal sample with the same
/// fingerprint, when there is one, replaces the `$n` text: its constants
/// make partial indexes possible and its plan is the one the application gets.
pub fn build(
    shapes: &[QueryShape],
    samples: &[QuerySample],
    catalog: &Catalog,
    filter: &ShapeFilter,
) -> (Vec<AdviseQuery>, Vec<NotAnalyzed>) {
    let mut by_fp: HashMap<Fingerprint, String> = HashMap::new();
    for s in samples {
        let literal = bind_params(&s.text, &s.params);
        let fp = fingerprint(&literal).fingerprint;
        by_fp.entry(fp).or_insert(literal);
    }
    let mut shapes: Vec<&QueryShape> = shapes
        .iter()
        .filter(|s| s.calls >= filter.min_calls && s.total_exec_time >= filter.min_total_time_ms)
        .collect();
    shapes.sort_by(|a, b| {
        b.total_exec_time
            .total_cmp(&a.total_exec_time)
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    if let Some(n) = filter.top {
        shapes.truncate(n);
    }
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for s in shapes {
        let text = by_fp
            .get(&s.fingerprint)
            .cloned()
            .unwrap_or_else(|| s.query.clone());
        match parse_for_advice(&text) {
            Ok(stmt) => {
                if !matches!(
                    stmt,
                    Statement::Query(_)
                        | Statement::Insert(_)
                        | Statement::Update(_)
                        | Statement::Delete(_)
                ) {
                    // Utility statements (SET, BEGIN, VACUUM …) have nothing to index.
                    continue;
                }
                let facts = extract(&stmt, catalog);
                if facts.accesses.is_empty() && facts.writes_to.is_empty() {
                    // Queries on the system catalogs (monitoring tools, this
                    // one included) are nothing a user index can serve.
                    let system_only = facts.unknown_tables.iter().all(|t| is_system_relation(t));
                    if !facts.unknown_tables.is_empty() && !system_only {
                        skipped.push(NotAnalyzed {
                            fingerprint: s.fingerprint,
                            query: s.query.clone(),
                            reason: format!(
                                "tables not in the catalog: {}",
                                facts.unknown_tables.join(", ")
                            ),
                        });
                    }
                    continue;
                }
                out.push(AdviseQuery {
                    fingerprint: s.fingerprint,
                    text,
                    calls: s.calls as f64,
                    total_time_ms: s.total_exec_time,
                    rows: s.rows as f64,
                    facts,
                    measured_buffers: None,
                });
            }
            // Unparseable, but reading system catalogs only: a monitoring query.
            Err(_)
                if lexical_relations(&text)
                    .iter()
                    .all(|r| is_system_relation(r))
                    && !lexical_relations(&text).is_empty() => {}
            Err(reason) => skipped.push(NotAnalyzed {
                fingerprint: s.fingerprint,
                query: s.query.clone(),
                reason,
            }),
        }
    }
    (out, skipped)
}

/// Relation names after FROM/JOIN, by tokens alone (for texts sqlparser rejects).
fn lexical_relations(text: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, text).tokenize() else {
        return Vec::new();
    };
    let sig: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut out = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        let Token::Word(w) = t else { continue };
        if !(w.value.eq_ignore_ascii_case("from") || w.value.eq_ignore_ascii_case("join")) {
            continue;
        }
        let mut name = String::new();
        let mut j = i + 1;
        while let Some(Token::Word(part)) = sig.get(j) {
            if part.value.eq_ignore_ascii_case("only") && name.is_empty() {
                j += 1;
                continue;
            }
            name.push_str(&part.value.to_lowercase());
            if matches!(sig.get(j + 1), Some(Token::Period)) {
                name.push('.');
                j += 2;
            } else {
                break;
            }
        }
        // `FROM now()` inside EXTRACT is a function call, not a relation.
        if !name.is_empty() && !matches!(sig.get(j + 1), Some(Token::LParen)) {
            out.push(name);
        }
    }
    out
}

fn is_system_relation(name: &str) -> bool {
    let base = name
        .strip_prefix("pg_catalog.")
        .or_else(|| name.strip_prefix("information_schema."))
        .unwrap_or(name);
    name.starts_with("pg_catalog.")
        || name.starts_with("information_schema.")
        || base.starts_with("pg_")
        || base.starts_with("hypopg")
}

/// Parse one statement for advice. Row-locking clauses sqlparser rejects
/// (`FOR NO KEY UPDATE`, `FOR KEY SHARE`) do not matter for indexing: they
/// are cut off and the rest is analysed.
pub fn parse_for_advice(text: &str) -> Result<Statement, String> {
    let dialect = PostgreSqlDialect {};
    let first_err = match Parser::parse_sql(&dialect, text) {
        Ok(mut v) if v.len() == 1 => return Ok(v.remove(0)),
        Ok(v) if v.is_empty() => return Err("empty statement".into()),
        Ok(_) => return Err("more than one statement in one query text".into()),
        Err(e) => e.to_string(),
    };
    // PostgreSQL's own forms sqlparser does not read: explicit operators
    // (`OPERATOR(pg_catalog.=)`) and `FROM ONLY` (foreign-key checks), and
    // trailing row locks.
    let mut simplified = simplify_operators(text);
    for (from, to) in [
        ("FROM ONLY ", "FROM "),
        ("from only ", "from "),
        ("JOIN ONLY ", "JOIN "),
        ("UPDATE ONLY ", "UPDATE "),
    ] {
        simplified = simplified.replace(from, to);
    }
    let cut = strip_locking_clause(&simplified).unwrap_or(simplified);
    if let Ok(mut v) = Parser::parse_sql(&dialect, &cut)
        && v.len() == 1
    {
        return Ok(v.remove(0));
    }
    Err(format!("sqlparser cannot parse it: {first_err}"))
}

/// `a OPERATOR(pg_catalog.=) b` → `a = b`.
fn simplify_operators(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("OPERATOR(") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + "OPERATOR(".len()..];
        match after.find(')') {
            Some(end) => {
                let op = after[..end].rsplit('.').next().unwrap_or("").trim();
                out.push_str(op);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text up to a trailing `FOR [NO KEY] UPDATE | FOR [KEY] SHARE …` clause.
fn strip_locking_clause(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let pos = [
        " FOR NO KEY UPDATE",
        " FOR KEY SHARE",
        " FOR UPDATE",
        " FOR SHARE",
    ]
    .iter()
    .filter_map(|k| upper.rfind(k))
    .max()?;
    Some(text[..pos].to_string())
}

/// Substitute `$n` placeholders with the logged parameter values (SQL
/// literals as the server printed them), outside quotes and comments.
pub fn bind_params(text: &str, params: &[String]) -> String {
    if params.is_empty() {
        return text.to_string();
    }
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize() else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    for t in tokens {
        match &t {
            Token::Placeholder(p) => match p
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| params.get(n.wrapping_sub(1)))
            {
                Some(v) => out.push_str(v),
                None => out.push_str(p),
            },
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_relations_by_tokens() {
        assert_eq!(
            lexical_relations(
                "SELECT x FROM pg_stat_database d JOIN pg_catalog.pg_class c ON true WHERE EXTRACT(EPOCH FROM now() - $1)"
            ),
            vec!["pg_stat_database", "pg_catalog.pg_class"]
        );
        assert!(
            ["pg_stat_database", "pg_catalog.pg_class"]
                .iter()
                .all(|r| is_system_relation(r))
        );
        assert!(!is_system_relation("app.customers"));
    }

    #[test]
    fn binds_logged_parameters() {
        assert_eq!(
            bind_params(
                "SELECT * FROM t WHERE a = $1 AND b = '$2' AND c = $2",
                &["'x'".into(), "42".into()]
            ),
            "SELECT * FROM t WHERE a = 'x' AND b = '$2' AND c = 42"
        );
        assert_eq!(bind_params("SELECT $3", &["1".into()]), "SELECT $3");
    }

    #[test]
    fn locking_clauses_do_not_block_advice() {
        let s = parse_for_advice(
            "SELECT * FROM app.bookings WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED",
        )
        .expect("parses");
        assert!(s.to_string().contains("WHERE id = $1"));
        let e = parse_for_advice("SELEKT 1").expect_err("garbage");
        assert!(e.contains("sqlparser"), "{e}");
        assert!(parse_for_advice("SELECT 1; SELECT 2").is_err());
        // A foreign-key check as pg_stat_statements records it.
        let s = parse_for_advice(
            "SELECT $2 FROM ONLY \"app\".\"customers\" x WHERE \"id\" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x",
        )
        .expect("parses");
        assert!(s.to_string().contains("\"id\" = $1"), "{s}");
    }
}
