//! Advice without a planner: from the SQL and the schema alone (offline
//! mode, `--schema`) or from `pg_stats` when HypoPG is missing. Proposals
//! are ranked by the execution time of the queries they serve and marked
//! unvalidated: nobody asked the planner whether it would use them.

use std::collections::HashMap;

use super::candidate::{IndexCandidate, candidates};
use super::select::{AdviseQuery, Rejected, Settings};
use crate::catalog::Catalog;
use crate::normalize::Fingerprint;

/// An unvalidated proposal and the queries it is meant for.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimated {
    pub candidate: IndexCandidate,
    pub queries: Vec<Fingerprint>,
    /// Execution time of those queries, in ms: the ranking key.
    pub total_time_ms: f64,
}

/// One plain candidate per query and table; prefixes merged into the
/// longer index that serves them; what an existing index already serves
/// is left out; at most `max_indexes`, by time served.
pub fn propose(
    catalog: &Catalog,
    queries: &[AdviseQuery],
    settings: &Settings,
) -> (Vec<Estimated>, Vec<Rejected>) {
    let mut rejected = Vec::new();
    let mut by_cand: HashMap<IndexCandidate, (Vec<Fingerprint>, f64)> = HashMap::new();
    let mut order: Vec<IndexCandidate> = Vec::new();
    for q in queries {
        for a in &q.facts.accesses {
            // The first variant is the plain one (equality, then sort or range).
            let Some(c) = candidates(a, catalog).into_iter().next() else {
                continue;
            };
            let served = catalog
                .indexes_on(&c.schema, &c.table)
                .find(|i| {
                    i.valid
                        && i.method == "btree"
                        && c.is_served_by_keys(&i.keys, i.predicate.as_deref())
                })
                .map(|i| format!("{}.{}", i.schema, i.name));
            if let Some(existing) = served {
                if !rejected.iter().any(|r: &Rejected| r.candidate == c) {
                    rejected.push(Rejected {
                        candidate: c,
                        reason: format!("already served by existing index {existing}"),
                    });
                }
                continue;
            }
            let e = by_cand.entry(c.clone()).or_insert_with(|| {
                order.push(c.clone());
                (Vec::new(), 0.0)
            });
            if !e.0.contains(&q.fingerprint) {
                e.0.push(q.fingerprint);
                e.1 += q.total_time_ms;
            }
        }
    }
    // Merge a candidate into a longer one on the same table whose keys it leads.
    let mut merged: Vec<Estimated> = Vec::new();
    for c in &order {
        let longer = order.iter().find(|o| {
            *o != c
                && o.schema == c.schema
                && o.table == c.table
                && o.keys.len() > c.keys.len()
                && c.is_served_by_keys(&o.keys, o.predicate.as_deref())
        });
        if let Some(o) = longer {
            let (fps, t) = by_cand[c].clone();
            let e = by_cand.get_mut(o).expect("present");
            for fp in fps {
                if !e.0.contains(&fp) {
                    e.0.push(fp);
                    e.1 += t;
                }
            }
            rejected.push(Rejected {
                candidate: c.clone(),
                reason: format!("merged into {}", o.name()),
            });
        }
    }
    for c in order {
        if rejected.iter().any(|r| r.candidate == c) {
            continue;
        }
        let (queries, total_time_ms) = by_cand.remove(&c).unwrap_or_default();
        merged.push(Estimated {
            candidate: c,
            queries,
            total_time_ms,
        });
    }
    merged.sort_by(|a, b| {
        b.total_time_ms
            .total_cmp(&a.total_time_ms)
            .then_with(|| a.candidate.name().cmp(&b.candidate.name()))
    });
    for extra in merged.split_off(settings.max_indexes.min(merged.len())) {
        rejected.push(Rejected {
            candidate: extra.candidate,
            reason: "beyond --max-indexes".into(),
        });
    }
    (merged, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::workload::parse_for_advice;

    #[test]
    fn merges_prefixes_and_skips_what_exists() {
        let catalog = crate::catalog::schema_file::parse(include_str!(
            "../../fixtures/seed-platform/schema.sql"
        ))
        .expect("schema");
        let q = |i: u64, t: f64, sql: &str| AdviseQuery {
            fingerprint: Fingerprint(i),
            text: sql.into(),
            calls: 1.0,
            total_time_ms: t,
            rows: 1.0,
            facts: super::super::extract::extract(
                &parse_for_advice(sql).expect("parses"),
                &catalog,
            ),
            measured_buffers: None,
        };
        let qs = vec![
            q(1, 10.0, "SELECT * FROM app.bookings WHERE customer_id = $1"),
            q(
                2,
                50.0,
                "SELECT id FROM app.bookings WHERE customer_id = $1 ORDER BY event_date",
            ),
            q(3, 99.0, "SELECT * FROM app.customers WHERE id = $1"),
            q(4, 5.0, "SELECT 1 FROM app.customers WHERE tenant_id = $1"),
        ];
        let (props, rejected) = propose(&catalog, &qs, &Settings::default());
        assert_eq!(props.len(), 1, "{props:#?}");
        assert_eq!(
            props[0].candidate.column_texts(),
            ["customer_id", "event_date"]
        );
        assert_eq!(props[0].queries, [Fingerprint(2), Fingerprint(1)]);
        assert_eq!(props[0].total_time_ms, 60.0);
        let reasons: Vec<&str> = rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains("customers_pkey")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("customers_tenant_idx")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("merged into bookings_customer_id_event_date_idx")),
            "{reasons:?}"
        );
    }
}
