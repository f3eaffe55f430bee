//! One index candidate: which columns, in which order, with which partial
//! predicate, and the DDL that creates it. The column order follows one rule
//! for every caller: equality columns first (most selective first when the
//! caller knows selectivities, else in the order given), then the ORDER BY
//! columns in order and direction when they let the index satisfy the sort,
//! else one range column. `IS NULL` / `IS NOT NULL` conditions, which do not
//! come from parameters, become the partial-index predicate.

use serde::Serialize;

use crate::ident::{quote_ident, quote_qualified};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const MAX_NAME_BYTES: usize = 63;

/// How a condition uses a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PredicateKind {
    /// `col = x`, `col IN (…)`, `col = ANY(…)`, or a join `col = other.col`.
    Equality,
    /// `col < x`, `col BETWEEN …`, `col >= x`.
    Range,
    IsNull,
    IsNotNull,
}

/// A classified condition on one column of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnPredicate {
    pub column: String,
    pub kind: PredicateKind,
    /// Fraction of rows the condition keeps (0..=1), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selectivity: Option<f64>,
}

/// One ORDER BY item the query sorts by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortColumn {
    pub column: String,
    pub descending: bool,
    /// `Some(true)` for an explicit NULLS FIRST, `Some(false)` for NULLS LAST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nulls_first: Option<bool>,
}

/// One index key column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyColumn {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub descending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    #[default]
    Btree,
    Hash,
    Gin,
    Gist,
    Brin,
}

impl IndexKind {
    fn as_sql(self) -> &'static str {
        match self {
            IndexKind::Btree => "btree",
            IndexKind::Hash => "hash",
            IndexKind::Gin => "gin",
            IndexKind::Gist => "gist",
            IndexKind::Brin => "brin",
        }
    }
}

/// An index worth creating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexCandidate {
    pub schema: Option<String>,
    pub table: String,
    pub columns: Vec<KeyColumn>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Partial-index predicate, already valid SQL with quoted identifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    pub kind: IndexKind,
}

impl IndexCandidate {
    /// Build the candidate for conditions and an ORDER BY on one table.
    /// `None` when nothing in the conditions can be an index key.
    pub fn from_predicates(
        schema: Option<&str>,
        table: &str,
        predicates: &[ColumnPredicate],
        order_by: &[SortColumn],
    ) -> Option<IndexCandidate> {
        let mut columns: Vec<KeyColumn> = Vec::new();
        let has = |cols: &[KeyColumn], name: &str| cols.iter().any(|c| c.name == name);

        let mut equality: Vec<&ColumnPredicate> = predicates
            .iter()
            .filter(|p| p.kind == PredicateKind::Equality)
            .collect();
        // Stable: callers without selectivities keep their own order.
        equality.sort_by(|a, b| {
            let a = a.selectivity.unwrap_or(f64::MAX);
            let b = b.selectivity.unwrap_or(f64::MAX);
            a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
        });
        for p in equality {
            if !has(&columns, &p.column) {
                columns.push(KeyColumn {
                    name: p.column.clone(),
                    descending: false,
                    nulls_first: None,
                });
            }
        }

        let mut null_conds: Vec<String> = Vec::new();
        for p in predicates {
            let cond = match p.kind {
                PredicateKind::IsNull => format!("{} IS NULL", quote_ident(&p.column)),
                PredicateKind::IsNotNull => format!("{} IS NOT NULL", quote_ident(&p.column)),
                _ => continue,
            };
            if !null_conds.contains(&cond) {
                null_conds.push(cond);
            }
        }

        // ORDER BY columns not already pinned by equality.
        let sort: Vec<&SortColumn> = order_by
            .iter()
            .filter(|s| !has(&columns, &s.column))
            .collect();
        if !sort.is_empty() {
            for s in sort {
                columns.push(KeyColumn {
                    name: s.column.clone(),
                    descending: s.descending,
                    nulls_first: s.nulls_first,
                });
            }
        } else if let Some(r) = predicates
            .iter()
            .find(|p| p.kind == PredicateKind::Range && !has(&columns, &p.column))
        {
            columns.push(KeyColumn {
                name: r.column.clone(),
                descending: false,
                nulls_first: None,
            });
        }

        if columns.is_empty() {
            // Only IS [NOT] NULL conditions: index the first such column.
            let first = predicates
                .iter()
                .find(|p| matches!(p.kind, PredicateKind::IsNull | PredicateKind::IsNotNull))?;
            columns.push(KeyColumn {
                name: first.column.clone(),
                descending: false,
                nulls_first: None,
            });
        }
        Some(IndexCandidate {
            schema: schema.map(str::to_string),
            table: table.to_string(),
            columns,
            include: Vec::new(),
            predicate: (!null_conds.is_empty()).then(|| null_conds.join(" AND ")),
            kind: IndexKind::Btree,
        })
    }

    /// `<table>_<cols>_idx`, kept within 63 bytes; a truncated name ends
    /// with a hash of the whole definition so two long names never collide.
    pub fn name(&self) -> String {
        let mut parts = vec![sanitize(&self.table)];
        parts.extend(self.columns.iter().map(|c| sanitize(&c.name)));
        if self.predicate.is_some() {
            parts.push("partial".into());
        }
        let full = format!("{}_idx", parts.join("_"));
        if full.len() <= MAX_NAME_BYTES {
            return full;
        }
        let hash = xxhash_rust::xxh3::xxh3_64(self.definition().as_bytes());
        let suffix = format!("_{:08x}_idx", hash & 0xffff_ffff);
        let stem = parts.join("_");
        let mut cut = MAX_NAME_BYTES - suffix.len();
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{suffix}", stem[..cut].trim_end_matches('_'))
    }

    /// `ON schema.table USING … (cols) INCLUDE (…) WHERE …`: everything after the name.
    fn definition(&self) -> String {
        let target = match &self.schema {
            Some(s) => quote_qualified(s, &self.table),
            None => quote_ident(&self.table),
        };
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut s = quote_ident(&c.name);
                if c.descending {
                    s.push_str(" DESC");
                }
                match c.nulls_first {
                    Some(true) => s.push_str(" NULLS FIRST"),
                    Some(false) => s.push_str(" NULLS LAST"),
                    None => {}
                }
                s
            })
            .collect();
        let mut def = format!("ON {target}");
        if self.kind != IndexKind::Btree {
            def.push_str(" USING ");
            def.push_str(self.kind.as_sql());
        }
        def.push_str(&format!(" ({})", cols.join(", ")));
        if !self.include.is_empty() {
            let inc: Vec<String> = self.include.iter().map(|c| quote_ident(c)).collect();
            def.push_str(&format!(" INCLUDE ({})", inc.join(", ")));
        }
        if let Some(p) = &self.predicate {
            def.push_str(" WHERE ");
            def.push_str(p);
        }
        def
    }

    /// The statement that creates the index without blocking writes.
    pub fn ddl(&self) -> String {
        format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} {};",
            quote_ident(&self.name()),
            self.definition()
        )
    }
}

/// Lower-case, `[a-z0-9_]` only: names read well and need no quoting.
fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(column: &str, kind: PredicateKind) -> ColumnPredicate {
        ColumnPredicate {
            column: column.into(),
            kind,
            selectivity: None,
        }
    }

    #[test]
    fn equality_then_sort_then_partial() {
        // followups_due: status = …, followup IS NULL, event_date < …, ORDER BY event_date
        let c = IndexCandidate::from_predicates(
            Some("app"),
            "bookings",
            &[
                p("status", PredicateKind::Equality),
                p("followup_scheduled_at", PredicateKind::IsNull),
                p("event_date", PredicateKind::Range),
            ],
            &[SortColumn {
                column: "event_date".into(),
                descending: false,
                nulls_first: None,
            }],
        )
        .expect("a candidate");
        assert_eq!(
            c.ddl(),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_status_event_date_partial_idx \
             ON app.bookings (status, event_date) WHERE followup_scheduled_at IS NULL;"
        );
    }

    #[test]
    fn one_range_column_without_sort_and_most_selective_first() {
        let mut a = p("department", PredicateKind::Equality);
        a.selectivity = Some(0.1);
        let mut b = p("status", PredicateKind::Equality);
        b.selectivity = Some(0.02);
        let c = IndexCandidate::from_predicates(
            None,
            "customers",
            &[
                a,
                b,
                p("created_at", PredicateKind::Range),
                p("tenant_id", PredicateKind::Range),
            ],
            &[],
        )
        .expect("a candidate");
        let cols: Vec<_> = c.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(cols, ["status", "department", "created_at"]);
    }

    #[test]
    fn sort_direction_and_quoting() {
        let c = IndexCandidate::from_predicates(
            Some("app"),
            "conversation_messages",
            &[
                p("customer_id", PredicateKind::Equality),
                p("role", PredicateKind::Equality),
            ],
            &[SortColumn {
                column: "timestamp".into(),
                descending: true,
                nulls_first: None,
            }],
        )
        .expect("a candidate");
        assert!(
            c.ddl()
                .ends_with("ON app.conversation_messages (customer_id, role, \"timestamp\" DESC);"),
            "{}",
            c.ddl()
        );
    }

    #[test]
    fn long_names_stay_within_63_bytes_and_differ() {
        let long = "a_very_long_column_name_that_goes_on_and_on";
        let a = IndexCandidate::from_predicates(
            None,
            "some_table_with_a_long_name",
            &[
                p(long, PredicateKind::Equality),
                p("x1", PredicateKind::Equality),
            ],
            &[],
        )
        .expect("a candidate");
        let b = IndexCandidate::from_predicates(
            None,
            "some_table_with_a_long_name",
            &[
                p(long, PredicateKind::Equality),
                p("x2", PredicateKind::Equality),
            ],
            &[],
        )
        .expect("a candidate");
        assert!(a.name().len() <= 63, "{}", a.name());
        assert!(a.name().ends_with("_idx"));
        assert_ne!(a.name(), b.name());
    }

    #[test]
    fn nothing_indexable_is_none() {
        assert!(IndexCandidate::from_predicates(None, "t", &[], &[]).is_none());
    }
}
