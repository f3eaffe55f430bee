//! Workload-wide selection: which candidates to build, judged by the
//! planner. Benefit is the sum over every query of calls × cost saved (one
//! index helping five queries counts once), minus the write cost of
//! maintaining it; candidates are taken greedily by net benefit per byte
//! under `max_indexes`/`max_size`, then the chosen set is re-costed
//! together, and a set that makes any query more expensive is revised.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::candidate::{IndexCandidate, candidates};
use super::extract::QueryFacts;
use super::whatif::{PlanSummary, WhatIf};
use crate::catalog::Catalog;
use crate::normalize::Fingerprint;

/// One workload query shape as advice sees it.
#[derive(Debug, Clone)]
pub struct AdviseQuery {
    pub fingerprint: Fingerprint,
    /// Text the planner is asked about: a literal sample when there is one, else the `$n` form.
    pub text: String,
    pub calls: f64,
    pub total_time_ms: f64,
    /// Rows returned or written over all calls.
    pub rows: f64,
    pub facts: QueryFacts,
    /// Shared buffers one execution really touched (`--analyze`), when measured.
    pub measured_buffers: Option<f64>,
}

/// Knobs of the selection (rules/advise.yaml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// At most this many new indexes.
    pub max_indexes: usize,
    /// At most this many bytes of new indexes in total (0: no limit).
    pub max_size_bytes: i64,
    /// A candidate counts for a query only if it cuts that query's cost by this fraction.
    pub min_cost_drop: f64,
    /// No query may get more expensive than this fraction under the chosen set.
    pub regression_tolerance: f64,
    /// Planner cost units charged per written row per extra index.
    pub write_cost_per_row: f64,
}

impl Settings {
    /// The shipped rules/advise.yaml.
    pub const DEFAULT_YAML: &'static str = include_str!("../../rules/advise.yaml");

    /// Parse a rules file; unknown keys are errors naming the file.
    pub fn from_yaml(text: &str, origin: &str) -> anyhow::Result<Settings> {
        serde_norway::from_str::<Option<Settings>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                anyhow::anyhow!("{origin}: {e}; see rules/advise.yaml for the keys advise reads")
            })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_indexes: 10,
            max_size_bytes: 0,
            min_cost_drop: 0.10,
            regression_tolerance: 0.02,
            write_cost_per_row: 1.0,
        }
    }
}

/// A query's cost before and after, under one index or the chosen set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryGain {
    pub fingerprint: Fingerprint,
    pub cost_before: f64,
    pub cost_after: f64,
}

/// A chosen index with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    pub candidate: IndexCandidate,
    pub size_bytes: i64,
    /// Queries whose final plan uses it.
    pub queries: Vec<QueryGain>,
    /// Σ calls × cost saved for those queries under the chosen set.
    pub benefit: f64,
    pub write_penalty: f64,
    /// Estimated share of the workload's execution time saved, 0..=100.
    pub time_saved_pct: f64,
    /// Plan nodes of the first helped query under the chosen set (evidence).
    pub plan_after: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub candidate: IndexCandidate,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub chosen: Vec<Chosen>,
    pub rejected: Vec<Rejected>,
    /// Queries the planner could not plan, with the error.
    pub unplannable: Vec<(Fingerprint, String)>,
    /// Plan cost of every query before and after the chosen set.
    pub costs: Vec<QueryGain>,
    /// Existing indexes (schema.name) some workload plan uses.
    pub existing_used: HashSet<String>,
    pub plans_asked: usize,
    /// Plans answered from the what-if cache (asked before under the same set).
    pub plans_cached: usize,
    pub hypothetical_created: usize,
    /// Queries whose weight came from EXPLAIN ANALYZE (`--analyze`).
    pub analyzed: usize,
}

/// Run the selection on a live what-if session.
pub async fn select(
    whatif: &mut WhatIf<'_>,
    catalog: &Catalog,
    queries: &[AdviseQuery],
    settings: &Settings,
) -> Result<Selection> {
    let mut sel = Selection::default();

    // 1. Baseline plans, with the plan cache keyed by query text.
    let mut base: Vec<Option<PlanSummary>> = Vec::with_capacity(queries.len());
    for q in queries {
        match whatif.plan(&q.text).await {
            Ok(p) => {
                for ix in &p.indexes_used {
                    if let Some(i) = catalog.indexes.iter().find(|i| &i.name == ix) {
                        sel.existing_used.insert(format!("{}.{}", i.schema, i.name));
                    }
                }
                base.push(Some(p));
            }
            Err(e) => {
                sel.unplannable.push((q.fingerprint, format!("{e:#}")));
                base.push(None);
            }
        }
    }

    // Work per query: planner cost, calibrated by what EXPLAIN ANALYZE
    // measured (`--analyze`). A measured query weighs by its real buffers per
    // cost unit; the others by the median of that ratio, so both kinds
    // compare on one scale.
    let ratios: Vec<f64> = queries
        .iter()
        .zip(&base)
        .filter_map(|(q, b)| match (q.measured_buffers, b) {
            (Some(buf), Some(p)) if p.total_cost > 0.0 => Some(buf / p.total_cost),
            _ => None,
        })
        .collect();
    let typical = median(&ratios).unwrap_or(1.0);
    let weight: Vec<f64> = queries
        .iter()
        .zip(&base)
        .map(|(q, b)| {
            let per_cost = match (q.measured_buffers, b) {
                (Some(buf), Some(p)) if p.total_cost > 0.0 => buf / p.total_cost,
                _ => typical,
            };
            q.calls * per_cost
        })
        .collect();
    sel.analyzed = ratios.len();

    // 2. Candidates, deduplicated, each remembering which tables' queries to re-plan.
    let mut cands: Vec<IndexCandidate> = Vec::new();
    for (qi, q) in queries.iter().enumerate() {
        if base[qi].is_none() {
            continue;
        }
        for a in &q.facts.accesses {
            for c in candidates(a, catalog) {
                if cands.contains(&c) {
                    continue;
                }
                let existing = catalog
                    .indexes_on(&c.schema, &c.table)
                    .find(|i| {
                        i.valid
                            && i.method == "btree"
                            && c.include.iter().all(|x| {
                                i.include.contains(x) || i.keys.iter().any(|k| &k.expr == x)
                            })
                            && c.is_served_by_keys(&i.keys, i.predicate.as_deref())
                    })
                    .map(|i| format!("{}.{}", i.schema, i.name));
                if let Some(existing) = existing {
                    sel.rejected.push(Rejected {
                        candidate: c,
                        reason: format!("already served by existing index {existing}"),
                    });
                    continue;
                }
                cands.push(c);
            }
        }
    }
    let touching = |c: &IndexCandidate| -> Vec<usize> {
        (0..queries.len())
            .filter(|&qi| base[qi].is_some())
            .filter(|&qi| {
                queries[qi]
                    .facts
                    .accesses
                    .iter()
                    .any(|a| a.schema == c.schema && a.table == c.table)
            })
            .collect()
    };

    // Write volume per table, from the workload's own write statements.
    let mut written: HashMap<(String, String), f64> = HashMap::new();
    for q in queries {
        for t in &q.facts.writes_to {
            *written.entry(t.clone()).or_default() += q.rows.max(q.calls);
        }
    }

    // 3. Each candidate alone.
    struct Single {
        cand: IndexCandidate,
        size: i64,
        cost: BTreeMap<usize, f64>,
        penalty: f64,
    }
    let mut singles: Vec<Single> = Vec::new();
    for c in cands {
        let h = match whatif.create(&c.hypothetical_ddl()).await {
            Ok(h) => h,
            Err(e) => {
                sel.rejected.push(Rejected {
                    candidate: c,
                    reason: format!("{e:#}"),
                });
                continue;
            }
        };
        let size = whatif.size(&h).await.unwrap_or(0);
        let mut cost = BTreeMap::new();
        let mut skew_reason: Option<String> = None;
        for qi in touching(&c) {
            let Some(before) = base[qi].as_ref().map(|p| p.total_cost) else {
                continue;
            };
            if let Some(why) = unknown_value_may_match_most_rows(&c, &queries[qi], catalog) {
                skew_reason = Some(why);
                continue;
            }
            if let Ok(p) = whatif
                .plan_on(&queries[qi].text, tables_of(&queries[qi]).as_deref())
                .await
                && p.indexes_used.iter().any(|n| n == &h.name)
                && before > 0.0
                && (before - p.total_cost) / before >= settings.min_cost_drop
            {
                cost.insert(qi, p.total_cost);
            }
        }
        whatif.reset().await?;
        if cost.is_empty() {
            let reason = skew_reason.unwrap_or_else(|| {
                format!(
                    "the planner does not use it, or it cuts no query's cost by {:.0}% or more",
                    settings.min_cost_drop * 100.0
                )
            });
            sel.rejected.push(Rejected {
                candidate: c,
                reason,
            });
            continue;
        }
        let penalty = written
            .get(&(c.schema.clone(), c.table.clone()))
            .copied()
            .unwrap_or(0.0)
            * settings.write_cost_per_row
            * typical;
        singles.push(Single {
            cand: c,
            size,
            cost,
            penalty,
        });
    }

    // 4. Greedy by net marginal benefit per byte.
    let mut current: Vec<f64> = base
        .iter()
        .map(|p| p.as_ref().map(|p| p.total_cost).unwrap_or(0.0))
        .collect();
    let mut picked: Vec<usize> = Vec::new();
    let mut total_size: i64 = 0;
    loop {
        if picked.len() >= settings.max_indexes {
            break;
        }
        let mut best: Option<(usize, f64)> = None;
        for (si, s) in singles.iter().enumerate() {
            // One variant per (keys, predicate): a covering twin of a picked index is merged into it.
            let twin = |o: &IndexCandidate| {
                o.schema == s.cand.schema
                    && o.table == s.cand.table
                    && o.keys == s.cand.keys
                    && o.predicate == s.cand.predicate
            };
            if picked.contains(&si) || picked.iter().any(|&p| twin(&singles[p].cand)) {
                continue;
            }
            if settings.max_size_bytes > 0 && total_size + s.size > settings.max_size_bytes {
                continue;
            }
            // Only queries this index still improves by the threshold count.
            let marginal: f64 = s
                .cost
                .iter()
                .filter(|&(&qi, &c)| {
                    current[qi] > 0.0 && (current[qi] - c) / current[qi] >= settings.min_cost_drop
                })
                .map(|(&qi, &c)| weight[qi] * (current[qi] - c))
                .sum();
            let net = marginal - s.penalty;
            if net <= 0.0 {
                continue;
            }
            let score = net / (s.size.max(8192) as f64);
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((si, score));
            }
        }
        let Some((si, _)) = best else { break };
        for (&qi, &c) in &singles[si].cost {
            current[qi] = current[qi].min(c);
        }
        total_size += singles[si].size;
        picked.push(si);
    }
    for (si, s) in singles.iter().enumerate() {
        if !picked.contains(&si) {
            sel.rejected.push(Rejected {
                candidate: s.cand.clone(),
                reason:
                    "another index serves the same queries for fewer bytes, or a limit was reached"
                        .into(),
            });
        }
    }

    // 5. Re-cost the chosen set together; revise while any query regresses.
    loop {
        let mut hypos = Vec::new();
        for &si in &picked {
            hypos.push(whatif.create(&singles[si].cand.hypothetical_ddl()).await?);
        }
        let mut finals: Vec<Option<PlanSummary>> = Vec::with_capacity(queries.len());
        for (qi, q) in queries.iter().enumerate() {
            finals.push(if base[qi].is_some() {
                whatif.plan_on(&q.text, tables_of(q).as_deref()).await.ok()
            } else {
                None
            });
        }
        whatif.reset().await?;
        // A query that got more expensive: drop the chosen index its plan uses
        // that earns least, and try again.
        let regressed = (0..queries.len()).find(|&qi| match (&base[qi], &finals[qi]) {
            (Some(b), Some(f)) => {
                f.total_cost > b.total_cost * (1.0 + settings.regression_tolerance)
            }
            _ => false,
        });
        if let Some(qi) = regressed
            && let Some(f) = &finals[qi]
        {
            let single_gain = |si: usize| -> f64 {
                singles[si]
                    .cost
                    .iter()
                    .map(|(&q, &c)| weight[q] * (current_base(&base, q) - c).max(0.0))
                    .sum()
            };
            let culprit = (0..picked.len())
                .filter(|&pos| f.indexes_used.contains(&hypos[pos].name))
                .min_by(|&a, &b| single_gain(picked[a]).total_cmp(&single_gain(picked[b])));
            if let Some(pos) = culprit {
                let si = picked.remove(pos);
                sel.rejected.push(Rejected {
                    candidate: singles[si].cand.clone(),
                    reason: format!(
                        "with the other chosen indexes it makes query {} more expensive",
                        queries[qi].fingerprint
                    ),
                });
                continue;
            }
        }
        // An index no final plan uses (another chosen one serves its queries
        // better) is not worth building.
        if let Some(pos) = (0..picked.len()).find(|&pos| {
            !finals
                .iter()
                .flatten()
                .any(|f| f.indexes_used.contains(&hypos[pos].name))
        }) {
            let si = picked.remove(pos);
            sel.rejected.push(Rejected {
                candidate: singles[si].cand.clone(),
                reason: "with the other chosen indexes the planner no longer uses it".into(),
            });
            continue;
        }
        // Final evidence.
        let total_time: f64 = queries.iter().map(|q| q.total_time_ms).sum();
        for (pos, &si) in picked.iter().enumerate() {
            let name = &hypos[pos].name;
            let mut gains = Vec::new();
            let mut benefit = 0.0;
            let mut saved_ms = 0.0;
            let mut plan_after = Vec::new();
            for qi in 0..queries.len() {
                if let (Some(b), Some(f)) = (&base[qi], &finals[qi])
                    && f.indexes_used.contains(name)
                {
                    gains.push(QueryGain {
                        fingerprint: queries[qi].fingerprint,
                        cost_before: b.total_cost,
                        cost_after: f.total_cost,
                    });
                    benefit += weight[qi] * (b.total_cost - f.total_cost).max(0.0);
                    if b.total_cost > 0.0 {
                        saved_ms += queries[qi].total_time_ms
                            * ((b.total_cost - f.total_cost) / b.total_cost).clamp(0.0, 1.0);
                    }
                    if plan_after.is_empty() {
                        plan_after = f
                            .nodes
                            .iter()
                            .map(|n| n.replace(name.as_str(), &singles[si].cand.name()))
                            .collect();
                    }
                }
            }
            sel.chosen.push(Chosen {
                candidate: singles[si].cand.clone(),
                size_bytes: singles[si].size,
                queries: gains,
                benefit,
                write_penalty: singles[si].penalty,
                time_saved_pct: if total_time > 0.0 {
                    100.0 * saved_ms / total_time
                } else {
                    0.0
                },
                plan_after,
            });
        }
        for (qi, q) in queries.iter().enumerate() {
            if let (Some(b), Some(f)) = (&base[qi], &finals[qi]) {
                sel.costs.push(QueryGain {
                    fingerprint: q.fingerprint,
                    cost_before: b.total_cost,
                    cost_after: f.total_cost,
                });
            }
        }
        break;
    }
    sel.chosen.sort_by(|a, b| b.benefit.total_cmp(&a.benefit));
    sel.plans_asked = whatif.plans;
    sel.plans_cached = whatif.cached;
    sel.hypothetical_created = whatif.created;
    Ok(sel)
}

/// A generic plan assumes an average value for `col = $1`; on skewed data
/// the application may well ask for the value most rows have (`status =
/// 'active'` at 90%), where an index only adds work. Unless the index also
/// delivers an ORDER BY … LIMIT, a lookup whose unknown values may match
/// half the table or more does not count as helped. Literal samples
/// (logs, SQL files, pg_stat_activity) replace the guess with the truth.
pub(crate) fn unknown_value_may_match_most_rows(
    c: &IndexCandidate,
    q: &AdviseQuery,
    catalog: &Catalog,
) -> Option<String> {
    let access = q
        .facts
        .accesses
        .iter()
        .find(|a| a.schema == c.schema && a.table == c.table)?;
    if !access.order_by.is_empty() && access.limit {
        return None;
    }
    let table = catalog.table(&c.schema, &c.table);
    let mut worst = 1.0;
    let mut unknown: Vec<String> = Vec::new();
    for key in &c.keys {
        let Some(p) = access
            .preds
            .iter()
            .find(|p| p.column == key.expr && p.op == super::extract::PredOp::Eq && !p.join)
        else {
            break;
        };
        let stats = table
            .and_then(|t| t.column(&p.column))
            .and_then(|col| col.stats.as_ref());
        match (&p.constant, stats) {
            (None, Some(st)) if !st.most_common_freqs.is_empty() => {
                let (i, f) =
                    st.most_common_freqs
                        .iter()
                        .enumerate()
                        .fold(
                            (0, 0.0_f64),
                            |acc, (i, &f)| if f > acc.1 { (i, f) } else { acc },
                        );
                worst *= f;
                unknown.push(format!(
                    "{} = $n may be '{}' ({:.0}% of rows)",
                    p.column,
                    st.most_common_vals.get(i).cloned().unwrap_or_default(),
                    f * 100.0
                ));
            }
            _ => worst *= super::candidate::eq_selectivity(table, &p.column, p.constant.as_deref()),
        }
    }
    (!unknown.is_empty() && worst >= 0.5).then(|| {
        format!(
            "low selectivity: {}; an index does not help such lookups. Give literal samples \
             (--samples, --log, --sample-activity) to judge the values really used",
            unknown.join(", ")
        )
    })
}

/// The tables a query reads, quoted as candidate DDL names them; None when
/// it also reads relations the catalog does not know (a view, say), whose
/// underlying tables could be any.
fn tables_of(q: &AdviseQuery) -> Option<Vec<String>> {
    if !q.facts.unknown_tables.is_empty() {
        return None;
    }
    Some(
        q.facts
            .accesses
            .iter()
            .map(|a| crate::ident::quote_qualified(&a.schema, &a.table))
            .collect(),
    )
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn current_base(base: &[Option<PlanSummary>], qi: usize) -> f64 {
    base[qi].as_ref().map(|p| p.total_cost).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_are_the_defaults() {
        assert_eq!(
            Settings::from_yaml(Settings::DEFAULT_YAML, "rules/advise.yaml").expect("parses"),
            Settings::default()
        );
        let s = Settings::from_yaml("max_indexes: 3\n", "x.yaml").expect("partial file");
        assert_eq!(s.max_indexes, 3);
        assert_eq!(s.min_cost_drop, Settings::default().min_cost_drop);
        let e = Settings::from_yaml("max_indexs: 3\n", "x.yaml").expect_err("typo");
        assert!(
            e.to_string().contains("x.yaml") && e.to_string().contains("max_indexs"),
            "{e}"
        );
    }
}
