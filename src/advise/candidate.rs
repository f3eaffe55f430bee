//! Index candidates: the indexes worth asking the planner about, built from
//! what a query asks of a table ([`TableAccess`]). The ordering rule:
//! equality columns first (most selective first, from `pg_stats`), then the
//! ORDER BY columns in order and direction when they let the index deliver
//! the sort, else one range column. Variants: partial (constant predicates
//! moved into `WHERE`), covering (`INCLUDE` the columns read back),
//! expression keys (`lower(email)`). The planner (HypoPG) decides which
//! variant earns its bytes; see `select`.

use serde::{Deserialize, Serialize};

use super::extract::{Pred, PredOp, TableAccess};
use super::naming::index_name;
use crate::catalog::{Catalog, IndexKey, Table};
use crate::ident::{quote_ident, quote_qualified};

/// Shown in reports and JSON (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CandidateKind {
    /// One plain column.
    Single,
    /// Several key columns.
    Composite,
    /// Has a `WHERE` predicate.
    Partial,
    /// Has `INCLUDE` columns.
    Covering,
    /// Has an expression key.
    Expression,
}

impl CandidateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Single => "single",
            CandidateKind::Composite => "composite",
            CandidateKind::Partial => "partial",
            CandidateKind::Covering => "covering",
            CandidateKind::Expression => "expression",
        }
    }
}

/// A b-tree index that could be built.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexCandidate {
    pub schema: String,
    pub table: String,
    pub keys: Vec<IndexKey>,
    pub include: Vec<String>,
    /// Partial-index predicate, SQL text with quoted identifiers.
    pub predicate: Option<String>,
}

impl IndexCandidate {
    pub fn kind(&self) -> CandidateKind {
        if self.predicate.is_some() {
            CandidateKind::Partial
        } else if !self.include.is_empty() {
            CandidateKind::Covering
        } else if self.keys.iter().any(|k| k.is_expression) {
            CandidateKind::Expression
        } else if self.keys.len() > 1 {
            CandidateKind::Composite
        } else {
            CandidateKind::Single
        }
    }

    /// Deterministic readable name: `<table>_<keys>[_include][_partial]_idx`.
    pub fn name(&self) -> String {
        let cols: Vec<String> = self.keys.iter().map(|k| k.expr.clone()).collect();
        let mut extra: Vec<&str> = Vec::new();
        if !self.include.is_empty() {
            extra.push("incl");
        }
        let pred_tag;
        if let Some(p) = &self.predicate {
            // Different predicates on the same keys must not share a name.
            pred_tag = format!("p{:04x}", xxhash_rust::xxh3::xxh3_64(p.as_bytes()) as u16);
            extra.push(&pred_tag);
        }
        index_name(&self.table, &cols, &extra)
    }

    /// Key list as JSON shows it: a column name, `name DESC`, or an expression.
    pub fn column_texts(&self) -> Vec<String> {
        self.keys.iter().map(IndexKey::text).collect()
    }

    /// `schema.table`, or the bare table when the schema is unknown (a plan
    /// captured without VERBOSE does not name it).
    fn qualified_table(&self) -> String {
        if self.schema.is_empty() {
            quote_ident(&self.table)
        } else {
            quote_qualified(&self.schema, &self.table)
        }
    }

    fn body(&self) -> String {
        let mut s = format!(
            "{} ({})",
            self.qualified_table(),
            self.keys.iter().map(key_sql).collect::<Vec<_>>().join(", ")
        );
        if !self.include.is_empty() {
            s.push_str(&format!(
                " INCLUDE ({})",
                self.include
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(p) = &self.predicate {
            s.push_str(&format!(" WHERE {p}"));
        }
        s
    }

    /// The DDL `apply` runs.
    pub fn ddl(&self) -> String {
        format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {}",
            quote_ident(&self.name()),
            self.body()
        )
    }

    /// The statement HypoPG takes (no CONCURRENTLY, no name needed).
    pub fn hypothetical_ddl(&self) -> String {
        format!("CREATE INDEX ON {}", self.body())
    }

    /// True when `other` can serve every lookup this one serves: same
    /// table and predicate, and this one's keys lead `other`'s.
    pub fn is_served_by_keys(&self, keys: &[IndexKey], predicate: Option<&str>) -> bool {
        self.predicate.as_deref() == predicate
            && keys.len() >= self.keys.len()
            && self
                .keys
                .iter()
                .zip(keys)
                .all(|(a, b)| a.expr == b.expr && (a.descending == b.descending))
    }
}

/// A key as DDL writes it: quoted column or parenthesized expression, then sort options.
fn key_sql(k: &IndexKey) -> String {
    let key = if k.is_expression {
        format!("({})", k.expr)
    } else {
        quote_ident(&k.expr)
    };
    format!("{key}{}", k.order_suffix())
}

/// Fraction of rows an equality on `col` keeps (1/n_distinct, or the MCV
/// frequency of a known constant); 0.1 when there are no statistics.
pub fn eq_selectivity(table: Option<&Table>, col: &str, constant: Option<&str>) -> f64 {
    let Some(stats) = table
        .and_then(|t| t.column(col))
        .and_then(|c| c.stats.as_ref())
    else {
        return 0.1;
    };
    if let Some(v) = constant {
        let unquoted = v.trim_matches('\'').replace("''", "'");
        if let Some(pos) = stats.most_common_vals.iter().position(|m| *m == unquoted) {
            return stats.most_common_freqs.get(pos).copied().unwrap_or(0.1);
        }
    }
    let rows = table.map(|t| t.rows()).unwrap_or(0.0);
    let distinct = if stats.n_distinct < 0.0 {
        -stats.n_distinct * rows
    } else {
        stats.n_distinct
    };
    if distinct >= 1.0 {
        (1.0 - stats.null_frac) / distinct
    } else {
        0.1
    }
}

/// Fraction of rows a constant predicate keeps, for deciding partial indexes.
pub fn pred_selectivity(table: Option<&Table>, p: &Pred) -> f64 {
    let stats = table
        .and_then(|t| t.column(&p.column))
        .and_then(|c| c.stats.as_ref());
    match p.op {
        PredOp::IsNull => stats.map(|s| s.null_frac).unwrap_or(0.5),
        PredOp::IsNotNull => stats.map(|s| 1.0 - s.null_frac).unwrap_or(0.5),
        PredOp::Eq | PredOp::IsTrue | PredOp::IsFalse => {
            eq_selectivity(table, &p.column, p.constant.as_deref())
        }
        PredOp::Range => 0.3,
    }
}

/// Most distinct values a column may have for `col = 'const'` to become a
/// partial-index predicate: a status or a type, not an id.
const MAX_PARTIAL_DISTINCT: f64 = 100.0;

/// NULL tests and booleans always may; an equality only on a low-cardinality
/// column whose statistics list the value among the most common ones (so a
/// partial index per customer id is never proposed). Without statistics
/// only NULL tests and booleans qualify.
fn partial_worthy(table: Option<&Table>, p: &Pred) -> bool {
    if p.op != PredOp::Eq {
        return true;
    }
    let Some(stats) = table
        .and_then(|t| t.column(&p.column))
        .and_then(|c| c.stats.as_ref())
    else {
        return false;
    };
    let rows = table.map(|t| t.rows()).unwrap_or(0.0);
    let distinct = if stats.n_distinct < 0.0 {
        -stats.n_distinct * rows
    } else {
        stats.n_distinct
    };
    let value = p
        .constant
        .as_deref()
        .unwrap_or("")
        .trim_matches('\'')
        .replace("''", "'");
    distinct <= MAX_PARTIAL_DISTINCT && stats.most_common_vals.contains(&value)
}

/// Widest INCLUDE list worth its bytes (sum of average widths).
const MAX_INCLUDE_WIDTH: i32 = 64;
const MAX_INCLUDE_COLUMNS: usize = 3;

/// All candidate variants for one table access of one query.
pub fn candidates(access: &TableAccess, catalog: &Catalog) -> Vec<IndexCandidate> {
    let table = catalog.table(&access.schema, &access.table);
    let mut out = Vec::new();

    // Equality keys, most selective first; expression keys keep their text.
    let mut eq: Vec<&Pred> = access.preds.iter().filter(|p| p.op == PredOp::Eq).collect();
    eq.sort_by(|a, b| {
        eq_selectivity(table, &a.column, None)
            .total_cmp(&eq_selectivity(table, &b.column, None))
            .then_with(|| a.column.cmp(&b.column))
    });
    eq.dedup_by(|a, b| a.column == b.column);
    let nulls: Vec<&Pred> = access
        .preds
        .iter()
        .filter(|p| {
            matches!(
                p.op,
                PredOp::IsNull | PredOp::IsNotNull | PredOp::IsTrue | PredOp::IsFalse
            )
        })
        .collect();
    let ranges: Vec<&Pred> = access
        .preds
        .iter()
        .filter(|p| p.op == PredOp::Range)
        .collect();

    // Constant predicates that can become a partial index's WHERE.
    let constant_preds: Vec<&Pred> = access
        .preds
        .iter()
        .filter(|p| !p.join && !p.is_expression && p.constant.is_some() && p.op != PredOp::Range)
        .filter(|p| partial_worthy(table, p))
        .collect();

    let build = |eq_cols: &[&Pred],
                 predicate: Option<String>,
                 include: Vec<String>|
     -> Option<IndexCandidate> {
        let mut keys: Vec<IndexKey> = eq_cols.iter().map(|p| key_for(p)).collect();
        // ORDER BY keys after the equality keys let the index deliver the
        // order (other conditions become filters); else one range column.
        if !access.order_by.is_empty() {
            // Uniform direction can be scanned backward: keep the default ASC keys then.
            let all_desc_default = access
                .order_by
                .iter()
                .all(|s| s.descending && s.nulls_first);
            let all_asc_default = access
                .order_by
                .iter()
                .all(|s| !s.descending && !s.nulls_first);
            for s in &access.order_by {
                if keys.iter().any(|k| k.expr == s.column) {
                    continue;
                }
                let mut k = IndexKey::column(&s.column);
                if !(all_desc_default || all_asc_default) {
                    k.descending = s.descending;
                    k.nulls_first = s.nulls_first;
                }
                keys.push(k);
            }
        } else if let Some(r) = ranges
            .iter()
            .find(|r| !keys.iter().any(|k| k.expr == r.column))
        {
            keys.push(key_for(r));
        }
        if keys.is_empty() {
            return None;
        }
        let include: Vec<String> = include
            .into_iter()
            .filter(|c| !keys.iter().any(|k| &k.expr == c))
            .collect();
        Some(IndexCandidate {
            schema: access.schema.clone(),
            table: access.table.clone(),
            keys,
            include,
            predicate,
        })
    };

    // 1. Plain: equality columns, then sort or range. With nothing else to
    //    key on, an `IS NULL` column (b-tree indexes NULLs).
    let mut eq_and_nulls: Vec<&Pred> = eq.clone();
    if eq_and_nulls.is_empty() && access.order_by.is_empty() && ranges.is_empty() {
        eq_and_nulls.extend(nulls.iter().filter(|p| p.op == PredOp::IsNull));
    }
    if let Some(c) = build(&eq_and_nulls, None, Vec::new()) {
        out.push(c);
    }

    // 2. Partial: constant predicates move into WHERE, the rest stays as keys.
    if !constant_preds.is_empty() {
        let remaining: Vec<&Pred> = eq
            .iter()
            .copied()
            .filter(|p| !constant_preds.iter().any(|c| c.column == p.column))
            .collect();
        let mut parts: Vec<String> = constant_preds.iter().map(|p| predicate_sql(p)).collect();
        parts.sort();
        parts.dedup();
        let predicate = Some(parts.join(" AND "));
        if let Some(c) = build(&remaining, predicate.clone(), Vec::new()) {
            out.push(c);
        } else if let Some(first) = constant_preds.first() {
            // Nothing left to key on: key on the predicate column itself.
            let mut only = (*first).clone();
            only.op = PredOp::Eq;
            if let Some(c) = build(&[&only], predicate, Vec::new()) {
                out.push(c);
            }
        }
    }

    // 3. Covering: the columns read back, when few and narrow, turn the
    //    lookup into an index-only scan.
    if !access.all_columns
        && let Some(base) = out.first().cloned()
        && let Some(t) = table
    {
        let extra: Vec<String> = access
            .referenced
            .iter()
            .filter(|c| !base.keys.iter().any(|k| &k.expr == *c))
            .filter(|c| {
                !access
                    .preds
                    .iter()
                    .any(|p| &p.column == *c && p.constant.is_some())
            })
            .cloned()
            .collect();
        let width: i32 = extra
            .iter()
            .map(|c| {
                t.column(c)
                    .and_then(|c| c.stats.as_ref())
                    .map(|s| s.avg_width)
                    .unwrap_or(16)
            })
            .sum();
        if !extra.is_empty() && extra.len() <= MAX_INCLUDE_COLUMNS && width <= MAX_INCLUDE_WIDTH {
            for variant in out.clone() {
                let mut v = variant;
                v.include = extra.clone();
                out.push(v);
            }
        }
    }
    out.dedup();
    out
}

fn key_for(p: &Pred) -> IndexKey {
    IndexKey {
        expr: p.column.clone(),
        is_expression: p.is_expression,
        descending: false,
        nulls_first: false,
    }
}

/// `"status" = 'confirmed'`, `followup_scheduled_at IS NULL`, `active`.
fn predicate_sql(p: &Pred) -> String {
    let col = quote_ident(&p.column);
    match p.op {
        PredOp::IsNull => format!("{col} IS NULL"),
        PredOp::IsNotNull => format!("{col} IS NOT NULL"),
        PredOp::IsTrue => col,
        PredOp::IsFalse => format!("NOT {col}"),
        _ => format!("{col} = {}", p.constant.as_deref().unwrap_or("NULL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::extract::extract;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn catalog() -> Catalog {
        crate::catalog::schema_file::parse(include_str!("../../fixtures/seed-platform/schema.sql"))
            .expect("schema")
    }

    /// The seed catalog with bookings.status statistics as ANALYZE gives them.
    fn catalog_with_status_stats() -> Catalog {
        let mut c = catalog();
        let t = c
            .tables
            .iter_mut()
            .find(|t| t.name == "bookings")
            .expect("bookings");
        t.reltuples = 200_000.0;
        let col = t
            .columns
            .iter_mut()
            .find(|c| c.name == "status")
            .expect("status");
        col.stats = Some(crate::catalog::ColumnStats {
            null_frac: 0.0,
            n_distinct: 4.0,
            avg_width: 9,
            correlation: Some(0.2),
            most_common_vals: vec![
                "completed".into(),
                "confirmed".into(),
                "cancelled".into(),
                "pending".into(),
            ],
            most_common_freqs: vec![0.7, 0.15, 0.1, 0.05],
        });
        c
    }

    fn ddls(sql: &str) -> Vec<String> {
        let c = catalog_with_status_stats();
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        let f = extract(&stmt, &c);
        f.accesses
            .iter()
            .flat_map(|a| candidates(a, &c))
            .map(|k| k.ddl())
            .collect()
    }

    #[test]
    fn equality_then_sort() {
        let d = ddls(
            "SELECT role, content, \"timestamp\" FROM app.conversation_messages \
             WHERE customer_id = $1 AND role = $2 ORDER BY \"timestamp\" DESC LIMIT 20",
        );
        assert_eq!(
            d[0],
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS conversation_messages_customer_id_role_timestamp_idx \
             ON app.conversation_messages (customer_id, role, \"timestamp\")"
        );
    }

    #[test]
    fn partial_from_constants_and_null_tests() {
        let d = ddls(
            "SELECT id, customer_id FROM app.bookings WHERE status = 'confirmed' \
             AND followup_scheduled_at IS NULL AND event_date < $1 ORDER BY event_date LIMIT 100",
        );
        assert!(d.iter().any(|s| s.ends_with("ON app.bookings (event_date) WHERE followup_scheduled_at IS NULL AND status = 'confirmed'")), "{d:#?}");
        assert!(
            d.iter()
                .any(|s| s.contains("ON app.bookings (status, event_date)")),
            "{d:#?}"
        );
    }

    #[test]
    fn mixed_directions_keep_desc_and_expressions_are_wrapped() {
        let d = ddls(
            "SELECT id FROM app.customers WHERE tenant_id = $1 ORDER BY created_at DESC, id ASC LIMIT 5",
        );
        assert!(d[0].contains("(tenant_id, created_at DESC, id)"), "{d:?}");
        let d = ddls("SELECT id FROM app.customers WHERE lower(email) = lower($1)");
        assert!(d[0].ends_with("ON app.customers ((lower(email)))"), "{d:?}");
        assert!(d[0].contains("customers_lower_email_idx"), "{d:?}");
    }

    #[test]
    fn covering_only_for_narrow_reads() {
        let d = ddls("SELECT id, status FROM app.customers WHERE email = $1");
        assert!(
            d.iter()
                .any(|s| s.ends_with("ON app.customers (email) INCLUDE (id, status)")),
            "{d:?}"
        );
        let d = ddls("SELECT * FROM app.customers WHERE email = $1");
        assert!(!d.iter().any(|s| s.contains("INCLUDE")), "{d:?}");
    }

    #[test]
    fn identifiers_are_quoted() {
        let mut c = catalog();
        c.tables[1].name = "Customer List".into();
        let acc = TableAccess {
            schema: "app".into(),
            table: "Customer List".into(),
            preds: vec![Pred {
                column: "order".into(),
                is_expression: false,
                op: PredOp::Eq,
                constant: None,
                join: false,
            }],
            ..TableAccess::default()
        };
        let k = &candidates(&acc, &c)[0];
        assert_eq!(
            k.ddl(),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS customer_list_order_idx ON app.\"Customer List\" (\"order\")"
        );
        assert_eq!(
            k.hypothetical_ddl(),
            "CREATE INDEX ON app.\"Customer List\" (\"order\")"
        );
    }
}
