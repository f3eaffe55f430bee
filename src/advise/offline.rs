//! Advice without a planner: from the SQL and the schema (offline mode,
//! `--schema`, with `--column-stats` when given) or from `pg_stats` when
//! HypoPG is missing. Proposals are ranked by the execution time of the
//! queries they serve and marked unvalidated: nobody asked the planner
//! whether it would use them. With statistics, a lookup whose unknown value
//! may match most rows gets no index, as in planner mode.

use std::collections::HashMap;

use super::candidate::{IndexCandidate, candidates};
use super::select::{AdviseQuery, Rejected, Settings, unknown_value_may_match_most_rows};
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
    let mut skewed: Vec<Rejected> = Vec::new();
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
            // Per query: the same index may still serve another query.
            if let Some(why) = unknown_value_may_match_most_rows(&c, q, catalog) {
                if !skewed.iter().any(|r: &Rejected| r.candidate == c) {
                    skewed.push(Rejected {
                        candidate: c,
                        reason: format!("{}: {why}", q.fingerprint),
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
    for r in skewed {
        if !merged.iter().any(|e| e.candidate == r.candidate)
            && !rejected.iter().any(|x| x.candidate == r.candidate)
        {
            rejected.push(r);
        }
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

    #[test]
    fn column_statistics_keep_skewed_lookups_out() {
        let mut catalog = crate::catalog::schema_file::parse(include_str!(
            "../../fixtures/seed-platform/schema.sql"
        ))
        .expect("schema");
        crate::catalog::stats_file::apply(
            &mut catalog,
            br#"{"format": "pgadvisor-column-stats/1", "tables": [
              {"schema": "app", "name": "customers", "reltuples": 200000, "columns": [
                {"name": "status", "null_frac": 0, "n_distinct": 3, "avg_width": 7, "correlation": 0.9,
                 "most_common_vals": ["active", "churned", "pending"], "most_common_freqs": [0.9, 0.08, 0.02]},
                {"name": "department", "null_frac": 0, "n_distinct": 12, "avg_width": 9, "correlation": 0.1}]}]}"#,
        )
        .expect("stats");
        let q = |i: u64, sql: &str| AdviseQuery {
            fingerprint: Fingerprint(i),
            text: sql.into(),
            calls: 1.0,
            total_time_ms: 10.0,
            rows: 1.0,
            facts: super::super::extract::extract(
                &parse_for_advice(sql).expect("parses"),
                &catalog,
            ),
            measured_buffers: None,
        };
        let skewed =
            "SELECT department, count(*) FROM app.customers WHERE status = $1 GROUP BY department";
        let (props, rejected) = propose(&catalog, &[q(1, skewed)], &Settings::default());
        assert!(props.is_empty(), "{props:#?}");
        assert!(
            rejected.iter().any(|r| r
                .reason
                .contains("status = $n may be 'active' (90% of rows)")),
            "{rejected:#?}"
        );
        // A rare value seen as a literal is worth its index.
        let rare = "SELECT department, count(*) FROM app.customers WHERE status = 'churned' GROUP BY department";
        let (props, _) = propose(&catalog, &[q(2, rare)], &Settings::default());
        assert_eq!(props.len(), 1, "{props:#?}");
        // Without statistics the skew is unknown and the index is proposed.
        let bare = crate::catalog::schema_file::parse(include_str!(
            "../../fixtures/seed-platform/schema.sql"
        ))
        .expect("schema");
        let facts =
            super::super::extract::extract(&parse_for_advice(skewed).expect("parses"), &bare);
        let mut unknown = q(3, skewed);
        unknown.facts = facts;
        assert_eq!(propose(&bare, &[unknown], &Settings::default()).0.len(), 1);
    }
}
