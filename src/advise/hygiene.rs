//! Index hygiene: the indexes that cost writes and buy nothing (duplicate,
//! redundant prefix, unused, invalid) and the foreign keys whose
//! referencing side has no index. Pure functions over a [`Catalog`].

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, ForeignKey, Index, IndexKey};
use crate::ident::{quote_ident, quote_qualified};

/// Usage counters younger than this are too short a window to call an index unused.
pub const SHORT_STATS_WINDOW_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropReason {
    Duplicate,
    Redundant,
    Unused,
    Invalid,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Duplicate => "duplicate",
            DropReason::Redundant => "redundant",
            DropReason::Unused => "unused",
            DropReason::Invalid => "invalid",
        }
    }
}

/// A proposal to drop one index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropProposal {
    /// `schema.index`, raw identifiers.
    pub index: String,
    /// `schema.table`, raw identifiers.
    pub table: String,
    pub reason: DropReason,
    pub ddl: String,
    pub size_bytes: i64,
    /// For duplicate/redundant: the index that keeps serving the queries.
    pub covered_by: Option<String>,
    /// Human-readable evidence for the proposal.
    pub evidence: String,
    /// Caveats the DBA should weigh (e.g. a short statistics window).
    pub warnings: Vec<String>,
}

/// A foreign key whose referencing columns lead no valid index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnindexedForeignKey {
    pub constraint: String,
    /// `schema.table` of the referencing side.
    pub table: String,
    pub columns: Vec<String>,
    /// `schema.table` referenced.
    pub references: String,
    /// Rows in the referencing table (each delete/key update on the referenced table scans it).
    pub table_rows: f64,
    /// Deletes + updates per second on the referenced table since stats reset.
    pub referenced_write_rate: f64,
    /// The index that would serve the constraint's checks and joins.
    pub ddl: String,
    pub index_name: String,
    /// Ranking score: larger first.
    pub score: f64,
}

/// Drop proposals for the whole catalog. `used_by_workload` names the
/// indexes (as `schema.index`) that some workload query's plan uses: never
/// proposed as unused, whatever the counters say.
pub fn drops(catalog: &Catalog, used_by_workload: &HashSet<String>) -> Vec<DropProposal> {
    let mut out = Vec::new();
    let mut dropped: HashSet<String> = HashSet::new();

    for idx in &catalog.indexes {
        if !idx.valid {
            out.push(proposal(
                idx,
                DropReason::Invalid,
                None,
                "indisvalid = false: the leftover of a failed or interrupted CREATE INDEX CONCURRENTLY; \
                 it is maintained on every write but never used by the planner"
                    .into(),
            ));
            dropped.insert(qname(idx));
        }
    }

    // Duplicates: same table, method, keys (with order), INCLUDE and predicate.
    // Keep the protected one (constraint, unique), else the shorter
    // (plainer) name. Which of two identical indexes plans happen to use
    // (and so which has the scans) says nothing: they would use the other
    // just as well.
    let valid: Vec<&Index> = catalog.indexes.iter().filter(|i| i.valid).collect();
    for (a_pos, a) in valid.iter().enumerate() {
        for b in valid.iter().skip(a_pos + 1) {
            if !same_table(a, b) || !same_definition(a, b) {
                continue;
            }
            let (keep, drop) = if prefer_keep(a, b) { (a, b) } else { (b, a) };
            if drop.is_protected()
                || dropped.contains(&qname(drop))
                || dropped.contains(&qname(keep))
            {
                continue;
            }
            out.push(proposal(
                drop,
                DropReason::Duplicate,
                Some(qname(keep)),
                format!("same definition as {}: {}", qname(keep), keep.definition),
            ));
            dropped.insert(qname(drop));
        }
    }

    // Redundant prefixes: a non-unique btree whose keys lead another valid
    // btree on the same table with the same predicate serves nothing the
    // longer one does not (except a slightly smaller scan).
    for a in &valid {
        if a.is_protected() || a.method != "btree" || dropped.contains(&qname(a)) {
            continue;
        }
        let longer = valid.iter().find(|b| {
            b.name != a.name
                && same_table(a, b)
                && b.method == "btree"
                && b.predicate == a.predicate
                && b.keys.len() > a.keys.len()
                && a.keys.iter().zip(&b.keys).all(|(x, y)| x.same_order(y))
                && a.include
                    .iter()
                    .all(|c| b.keys.iter().any(|k| &k.expr == c) || b.include.contains(c))
                && !dropped.contains(&qname(b))
        });
        if let Some(b) = longer {
            out.push(proposal(
                a,
                DropReason::Redundant,
                Some(qname(b)),
                format!(
                    "its keys ({}) are a prefix of {} ({}), which serves the same lookups",
                    keys_text(a),
                    qname(b),
                    keys_text(b)
                ),
            ));
            dropped.insert(qname(a));
        }
    }

    // Unused: no scans since the statistics were reset and no workload plan uses it.
    if let Some(age) = catalog.stats_age_seconds {
        for a in &valid {
            if a.is_protected()
                || a.idx_scan > 0
                || dropped.contains(&qname(a))
                || used_by_workload.contains(&qname(a))
            {
                continue;
            }
            let since = catalog
                .stats_since
                .as_deref()
                .unwrap_or("the last statistics reset");
            let mut p = proposal(
                a,
                DropReason::Unused,
                None,
                format!(
                    "0 scans since {since} ({}), and no workload query's plan uses it",
                    crate::output::duration_ms(age * 1000.0)
                ),
            );
            if age < SHORT_STATS_WINDOW_SECONDS {
                p.warnings.push(format!(
                    "the statistics window is only {}: monthly or rare jobs may still need this index; \
                     re-check after a longer window",
                    crate::output::duration_ms(age * 1000.0)
                ));
            }
            out.push(p);
            dropped.insert(qname(a));
        }
    }
    out
}

/// Without usage counters (offline, from a schema file), an index whose
/// leading column no workload query filters, joins, sorts or groups on is
/// unused by that workload. Weaker evidence than counters, and said so.
pub fn unused_by_workload(
    catalog: &Catalog,
    accesses: &[&crate::advise::extract::TableAccess],
    already: &[DropProposal],
) -> Vec<DropProposal> {
    let mut out = Vec::new();
    for idx in catalog
        .indexes
        .iter()
        .filter(|i| i.valid && !i.is_protected())
    {
        if already.iter().any(|d| d.index == qname(idx)) {
            continue;
        }
        let Some(lead) = idx.keys.first() else {
            continue;
        };
        let mut on_table = accesses
            .iter()
            .filter(|a| a.schema == idx.table_schema && a.table == idx.table)
            .peekable();
        if on_table.peek().is_none() {
            // The workload does not read this table at all: no evidence either way.
            continue;
        }
        let used = on_table.any(|a| {
            a.preds.iter().any(|p| p.column == lead.expr)
                || a.order_by.iter().any(|k| k.column == lead.expr)
                || a.group_by.contains(&lead.expr)
        });
        if !used {
            let mut p = proposal(
                idx,
                DropReason::Unused,
                None,
                format!(
                    "no workload query filters, joins, sorts or groups on its leading column {}",
                    lead.expr
                ),
            );
            p.warnings.push(
                "judged from the workload's SQL only (no usage counters offline): confirm with pg_stat_user_indexes.idx_scan before dropping".into(),
            );
            out.push(p);
        }
    }
    out
}

/// Foreign keys with no index leading with their columns (in any order,
/// since the checks use equality on all of them), ranked by referencing
/// table size times the write activity on the referenced table.
pub fn unindexed_foreign_keys(catalog: &Catalog) -> Vec<UnindexedForeignKey> {
    let mut out: Vec<UnindexedForeignKey> = catalog
        .foreign_keys
        .iter()
        .filter(|fk| !fk_is_indexed(catalog, fk))
        .map(|fk| {
            let rows = catalog
                .table(&fk.schema, &fk.table)
                .map(|t| t.rows())
                .unwrap_or(0.0);
            let ref_rate = catalog
                .table(&fk.ref_schema, &fk.ref_table)
                .map(|t| {
                    let w = (t.n_tup_del + t.n_tup_upd) as f64;
                    match catalog.stats_age_seconds {
                        Some(a) if a > 0.0 => w / a,
                        _ => 0.0,
                    }
                })
                .unwrap_or(0.0);
            let index_name = crate::advise::naming::index_name(&fk.table, &fk.columns, &[]);
            let ddl = format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})",
                quote_ident(&index_name),
                quote_qualified(&fk.schema, &fk.table),
                fk.columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            UnindexedForeignKey {
                constraint: fk.name.clone(),
                table: format!("{}.{}", fk.schema, fk.table),
                columns: fk.columns.clone(),
                references: format!("{}.{}", fk.ref_schema, fk.ref_table),
                table_rows: rows,
                referenced_write_rate: ref_rate,
                ddl,
                index_name,
                // Size matters even with no writes yet: joins on the key scan it too.
                score: rows.max(1.0) * (1.0 + ref_rate),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.constraint.cmp(&b.constraint))
    });
    out
}

fn fk_is_indexed(catalog: &Catalog, fk: &ForeignKey) -> bool {
    let n = fk.columns.len();
    catalog.indexes_on(&fk.schema, &fk.table).any(|i| {
        i.valid
            && i.predicate.is_none()
            && matches!(i.method.as_str(), "btree" | "hash")
            && i.keys.len() >= n
            && i.keys[..n]
                .iter()
                .all(|k| !k.is_expression && fk.columns.contains(&k.expr))
    })
}

fn proposal(
    idx: &Index,
    reason: DropReason,
    covered_by: Option<String>,
    evidence: String,
) -> DropProposal {
    DropProposal {
        index: qname(idx),
        table: format!("{}.{}", idx.table_schema, idx.table),
        reason,
        ddl: format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            quote_qualified(&idx.schema, &idx.name)
        ),
        size_bytes: idx.size_bytes,
        covered_by,
        evidence,
        warnings: Vec::new(),
    }
}

fn qname(i: &Index) -> String {
    format!("{}.{}", i.schema, i.name)
}

fn same_table(a: &Index, b: &Index) -> bool {
    a.table_schema == b.table_schema && a.table == b.table
}

fn same_definition(a: &Index, b: &Index) -> bool {
    a.method == b.method
        && a.keys.len() == b.keys.len()
        && a.keys.iter().zip(&b.keys).all(|(x, y)| x.same_order(y))
        && a.include == b.include
        && a.predicate == b.predicate
        && a.unique == b.unique
}

fn prefer_keep(a: &Index, b: &Index) -> bool {
    let rank = |i: &Index| {
        (
            i.is_protected(),
            std::cmp::Reverse(i.name.len()),
            std::cmp::Reverse(i.name.clone()),
        )
    };
    rank(a) >= rank(b)
}

fn keys_text(i: &Index) -> String {
    i.keys
        .iter()
        .map(IndexKey::text)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::schema_file;

    fn seed() -> Catalog {
        let mut c = schema_file::parse(include_str!("../../fixtures/seed-platform/schema.sql"))
            .expect("parses");
        // A live catalog would carry usage counters: give it a 30-day window.
        c.stats_age_seconds = Some(30.0 * 86400.0);
        c.stats_since = Some("2026-10-23".into());
        c
    }

    #[test]
    fn finds_the_seed_platform_mistakes() {
        let c = seed();
        let used: HashSet<String> = ["app.bookings_status_idx", "app.customers_tenant_status_idx"]
            .into_iter()
            .map(String::from)
            .collect();
        let d = drops(&c, &used);
        let by: Vec<(&str, DropReason)> = d.iter().map(|p| (p.index.as_str(), p.reason)).collect();
        assert!(
            by.contains(&("app.bookings_status_dup_idx", DropReason::Duplicate)),
            "{by:?}"
        );
        assert!(
            by.contains(&("app.customers_tenant_idx", DropReason::Redundant)),
            "{by:?}"
        );
        assert!(
            by.contains(&("app.customer_scores_confidence_idx", DropReason::Unused)),
            "{by:?}"
        );
        // Never a constraint index, never the copy that is kept, never an index a plan uses.
        assert!(
            !by.iter()
                .any(|(i, _)| i.ends_with("_pkey") || i.ends_with("_key")),
            "{by:?}"
        );
        assert!(
            !by.iter().any(|(i, _)| *i == "app.bookings_status_idx"),
            "{by:?}"
        );
        assert!(
            !by.iter()
                .any(|(i, _)| *i == "app.customers_tenant_status_idx"),
            "{by:?}"
        );
        assert_eq!(d.len(), 3, "{by:?}");
        let dup = &d[0];
        assert_eq!(dup.covered_by.as_deref(), Some("app.bookings_status_idx"));
        assert_eq!(
            dup.ddl,
            "DROP INDEX CONCURRENTLY IF EXISTS app.bookings_status_dup_idx"
        );
    }

    #[test]
    fn unused_needs_counters_and_warns_on_short_windows() {
        let mut c = seed();
        c.stats_age_seconds = None;
        assert!(
            drops(&c, &HashSet::new())
                .iter()
                .all(|p| p.reason != DropReason::Unused)
        );
        c.stats_age_seconds = Some(3600.0);
        let d = drops(&c, &HashSet::new());
        let unused = d
            .iter()
            .find(|p| p.reason == DropReason::Unused)
            .expect("unused proposal");
        assert_eq!(unused.warnings.len(), 1, "{unused:?}");
    }

    #[test]
    fn invalid_indexes_are_dropped_first() {
        let mut c = seed();
        let i = c
            .indexes
            .iter_mut()
            .find(|i| i.name == "bookings_status_idx")
            .expect("idx");
        i.valid = false;
        let d = drops(&c, &HashSet::new());
        assert_eq!(d[0].index, "app.bookings_status_idx");
        assert_eq!(d[0].reason, DropReason::Invalid);
        // The other copy is no longer a duplicate of an invalid index.
        assert!(!d.iter().any(|p| p.reason == DropReason::Duplicate));
    }

    #[test]
    fn offline_unused_means_no_workload_query_touches_the_leading_column() {
        let c = seed();
        let q = crate::advise::workload::parse_for_advice(
            "SELECT score FROM app.customer_scores WHERE customer_id = $1 AND score_type = $2 ORDER BY created_at DESC LIMIT 1",
        )
        .expect("parses");
        let f = crate::advise::extract::extract(&q, &c);
        let acc: Vec<&crate::advise::extract::TableAccess> = f.accesses.iter().collect();
        let d = unused_by_workload(&c, &acc, &[]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].index, "app.customer_scores_confidence_idx");
        assert_eq!(d[0].warnings.len(), 1);
    }

    #[test]
    fn unindexed_foreign_keys_of_seed_platform() {
        let c = seed();
        let fks = unindexed_foreign_keys(&c);
        let tables: HashSet<&str> = fks.iter().map(|f| f.table.as_str()).collect();
        for t in [
            "app.customer_scores",
            "app.conversation_messages",
            "app.ai_conversations",
            "app.ai_messages",
            "app.bookings",
        ] {
            assert!(tables.contains(t), "{t} missing from {tables:?}");
        }
        assert_eq!(fks.len(), 5);
        let am = fks
            .iter()
            .find(|f| f.table == "app.ai_messages")
            .expect("fk");
        assert_eq!(
            am.ddl,
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ai_messages_conversation_id_idx ON app.ai_messages (conversation_id)"
        );
    }

    #[test]
    fn a_leading_index_in_any_column_order_covers_a_foreign_key() {
        let mut c = seed();
        let mut idx = c
            .indexes
            .iter()
            .find(|i| i.name == "bookings_status_idx")
            .expect("idx")
            .clone();
        idx.name = "bookings_customer_event_idx".into();
        idx.keys = vec![
            crate::catalog::IndexKey::column("customer_id"),
            crate::catalog::IndexKey::column("event_date"),
        ];
        c.indexes.push(idx);
        assert!(
            !unindexed_foreign_keys(&c)
                .iter()
                .any(|f| f.table == "app.bookings")
        );
    }
}
