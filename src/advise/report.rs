//! The advice report: the versioned JSON contract (docs/advise.md) and the
//! terminal tables, built from the selection, hygiene and workload results.

use serde::Serialize;

use super::candidate::IndexCandidate;
use super::hygiene::{DropProposal, UnindexedForeignKey};
use super::workload::NotAnalyzed;
use crate::normalize::Fingerprint;
use crate::output;

/// JSON format version of `advise --format json`.
pub const REPORT_VERSION: u32 = 1;

/// How far the proposals were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every index was costed by the planner with HypoPG.
    Planner,
    /// Live catalog and statistics, but no HypoPG: heuristic, unvalidated.
    Estimated,
    /// From a schema file and the SQL alone: heuristic, unvalidated.
    Offline,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryEvidence {
    pub fingerprint: Fingerprint,
    /// The query text the planner was asked about (a literal sample when there was one).
    pub query: String,
    pub calls: f64,
    pub cost_before: Option<f64>,
    pub cost_after: Option<f64>,
    /// Shared buffers one execution touched without the index (`--analyze`).
    pub buffers_before: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexProposal {
    pub name: String,
    /// `schema.table`, raw identifiers.
    pub table: String,
    /// Keys in order: a column name, `name DESC`, or an expression text.
    pub columns: Vec<String>,
    #[serde(rename = "where")]
    pub predicate: Option<String>,
    pub include: Vec<String>,
    pub ddl: String,
    /// `single`, `composite`, `partial`, `covering` or `expression`.
    pub kind: String,
    /// HypoPG's size estimate; null when unvalidated.
    pub size_bytes: Option<i64>,
    /// Fingerprints of the queries it serves.
    pub queries: Vec<Fingerprint>,
    /// Calls-weighted mean plan cost of those queries, before and after; null when unvalidated.
    pub cost_before: Option<f64>,
    pub cost_after: Option<f64>,
    /// Estimated share of the workload's execution time saved, percent; null when unvalidated.
    pub time_saved_pct: Option<f64>,
    pub validated: bool,
    pub evidence: Vec<QueryEvidence>,
    /// Plan nodes of the first served query with the index (validated only).
    pub plan_after: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignKeyProposal {
    pub constraint: String,
    pub table: String,
    pub columns: Vec<String>,
    pub references: String,
    pub table_rows: f64,
    pub referenced_write_rate: f64,
    /// The index to create, unless a proposed index already covers it.
    pub ddl: Option<String>,
    pub index_name: String,
    /// Name of a proposed index in `indexes` that already leads with these columns.
    pub served_by_proposal: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RejectedCandidate {
    pub ddl: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WhatIfStats {
    /// Plans asked of the server.
    pub plans: usize,
    /// Plans answered from the cache (the same statement under the same hypothetical indexes).
    pub cached_plans: usize,
    pub hypothetical_indexes: usize,
    /// Queries measured with EXPLAIN (ANALYZE, BUFFERS) (`--analyze`).
    pub analyzed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub queries_analyzed: usize,
    pub indexes: usize,
    pub index_bytes: Option<i64>,
    pub drops: usize,
    pub drop_bytes: i64,
    pub time_saved_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdviceReport {
    pub version: u32,
    pub mode: Mode,
    pub validated: bool,
    /// Where the workload came from.
    pub workload: String,
    /// Where the catalog came from (connection without password, or schema file).
    pub catalog: String,
    /// Offline with `--column-stats`: selectivity came from real statistics
    /// (said in `catalog` for JSON readers).
    #[serde(skip)]
    pub column_stats: bool,
    pub indexes: Vec<IndexProposal>,
    pub drops: Vec<DropProposal>,
    pub foreign_keys: Vec<ForeignKeyProposal>,
    pub not_analyzed: Vec<NotAnalyzed>,
    /// Things the reader should know (e.g. why no partial index).
    pub notes: Vec<String>,
    /// Candidates considered and not proposed, with why (`--explain-why`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Vec<RejectedCandidate>>,
    pub whatif: Option<WhatIfStats>,
    pub summary: Summary,
}

impl IndexProposal {
    pub fn from_candidate(c: &IndexCandidate, validated: bool) -> Self {
        IndexProposal {
            name: c.name(),
            table: format!("{}.{}", c.schema, c.table),
            columns: c.column_texts(),
            predicate: c.predicate.clone(),
            include: c.include.clone(),
            ddl: c.ddl(),
            kind: c.kind().as_str().to_string(),
            size_bytes: None,
            queries: Vec::new(),
            cost_before: None,
            cost_after: None,
            time_saved_pct: None,
            validated,
            evidence: Vec::new(),
            plan_after: Vec::new(),
        }
    }
}

/// Whether a foreign key's index goes into the plan file: only when the
/// referenced table sees deletes or updates (each one scans the referencing
/// table without it). Otherwise it stays advice in the report.
pub fn fk_index_in_plan(f: &ForeignKeyProposal) -> bool {
    f.ddl.is_some() && f.referenced_write_rate > 0.0
}

/// Foreign-key proposals, pointing at a proposed index where one already
/// leads with the key's columns (no second index for the same columns).
pub fn foreign_keys(
    fks: &[UnindexedForeignKey],
    indexes: &[IndexProposal],
) -> Vec<ForeignKeyProposal> {
    fks.iter()
        .map(|fk| {
            let served = indexes.iter().find(|p| {
                p.table == fk.table
                    && p.predicate.is_none()
                    && p.columns.len() >= fk.columns.len()
                    && p.columns[..fk.columns.len()]
                        .iter()
                        .all(|c| fk.columns.contains(c))
            });
            ForeignKeyProposal {
                constraint: fk.constraint.clone(),
                table: fk.table.clone(),
                columns: fk.columns.clone(),
                references: fk.references.clone(),
                table_rows: fk.table_rows,
                referenced_write_rate: fk.referenced_write_rate,
                ddl: if served.is_some() {
                    None
                } else {
                    Some(fk.ddl.clone())
                },
                index_name: fk.index_name.clone(),
                served_by_proposal: served.map(|p| p.name.clone()),
            }
        })
        .collect()
}

impl AdviceReport {
    /// The terminal rendering: a heading and a table per section.
    pub fn render_text(&self, explain_why: bool) -> String {
        let mut out = String::new();
        let status = match self.mode {
            Mode::Planner => "validated by the planner (HypoPG)".to_string(),
            Mode::Estimated => {
                "UNVALIDATED: estimated from pg_stats (HypoPG is not installed)".to_string()
            }
            Mode::Offline if self.column_stats => {
                "UNVALIDATED: offline, from the SQL, the schema file and column statistics"
                    .to_string()
            }
            Mode::Offline => {
                "UNVALIDATED: offline, from the SQL and the schema file only".to_string()
            }
        };
        out.push_str(&format!(
            "advice for {} queries from {} (catalog: {}); {status}\n",
            self.summary.queries_analyzed, self.workload, self.catalog
        ));

        out.push_str(&format!("\nNew indexes ({})\n", self.indexes.len()));
        if self.indexes.is_empty() {
            out.push_str(
                "  none: no candidate cut a workload query's cost enough to earn its size\n",
            );
        } else {
            let mut t = output::table(&[
                "#",
                "index",
                "kind",
                "size",
                "queries",
                "cost before → after",
                "time saved",
            ]);
            for (i, p) in self.indexes.iter().enumerate() {
                let def = format!(
                    "{} ({}){}{}",
                    p.table,
                    p.columns.join(", "),
                    if p.include.is_empty() {
                        String::new()
                    } else {
                        format!(" INCLUDE ({})", p.include.join(", "))
                    },
                    p.predicate
                        .as_ref()
                        .map(|w| format!(" WHERE {w}"))
                        .unwrap_or_default()
                );
                let queries = p
                    .evidence
                    .iter()
                    .map(|e| format!("{} {}", e.fingerprint, output::shorten(&e.query, 40)))
                    .collect::<Vec<_>>()
                    .join("\n");
                let cost = match (p.cost_before, p.cost_after) {
                    (Some(b), Some(a)) => format!("{b:.1} → {a:.1}"),
                    _ => "-".into(),
                };
                t.add_row(vec![
                    (i + 1).to_string(),
                    def,
                    p.kind.clone(),
                    p.size_bytes
                        .map(|b| output::bytes(b.max(0) as u64))
                        .unwrap_or_else(|| "-".into()),
                    queries,
                    cost,
                    p.time_saved_pct
                        .map(|s| format!("{s:.1}%"))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            out.push_str(&format!("{t}\n"));
        }

        out.push_str(&format!("\nIndexes to drop ({})\n", self.drops.len()));
        if self.drops.is_empty() {
            out.push_str("  none\n");
        } else {
            let mut t = output::table(&["index", "reason", "size", "evidence"]);
            for d in &self.drops {
                let mut ev = d.evidence.clone();
                for w in &d.warnings {
                    ev.push_str(&format!("\nwarning: {w}"));
                }
                // Offline there are no sizes: say unknown, not zero.
                let size = if self.mode == Mode::Offline {
                    "-".to_string()
                } else {
                    output::bytes(d.size_bytes.max(0) as u64)
                };
                t.add_row(vec![
                    d.index.clone(),
                    d.reason.as_str().to_string(),
                    size,
                    ev,
                ]);
            }
            out.push_str(&format!("{t}\n"));
        }

        out.push_str(&format!(
            "\nForeign keys without an index ({})\n",
            self.foreign_keys.len()
        ));
        if self.foreign_keys.is_empty() {
            out.push_str("  none\n");
        } else {
            let mut t = output::table(&[
                "constraint",
                "table (columns)",
                "references",
                "rows",
                "proposal",
            ]);
            for f in &self.foreign_keys {
                let prop = match (&f.served_by_proposal, &f.ddl) {
                    (Some(p), _) => format!("served by proposed {p}"),
                    (None, Some(ddl)) if fk_index_in_plan(f) => ddl.clone(),
                    (None, Some(ddl)) => format!(
                        "{ddl}\n(not in the plan: no deletes or updates on {} seen)",
                        f.references
                    ),
                    (None, None) => "-".into(),
                };
                t.add_row(vec![
                    f.constraint.clone(),
                    format!("{} ({})", f.table, f.columns.join(", ")),
                    f.references.clone(),
                    if self.mode == Mode::Offline {
                        "-".to_string()
                    } else {
                        format!("{:.0}", f.table_rows)
                    },
                    prop,
                ]);
            }
            out.push_str(&format!("{t}\n"));
        }

        if !self.not_analyzed.is_empty() {
            out.push_str(&format!(
                "\nQueries not analysed ({})\n",
                self.not_analyzed.len()
            ));
            let mut t = output::table(&["fingerprint", "query", "reason"]);
            for n in &self.not_analyzed {
                t.add_row(vec![
                    n.fingerprint.to_string(),
                    output::shorten(&n.query, 50),
                    n.reason.clone(),
                ]);
            }
            out.push_str(&format!("{t}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        if explain_why && let Some(rej) = &self.rejected {
            out.push_str(&format!(
                "\nCandidates considered and not proposed ({})\n",
                rej.len()
            ));
            let mut t = output::table(&["candidate", "why not"]);
            for r in rej {
                t.add_row(vec![r.ddl.clone(), r.reason.clone()]);
            }
            out.push_str(&format!("{t}\n"));
        }
        if explain_why {
            for p in &self.indexes {
                if !p.plan_after.is_empty() {
                    out.push_str(&format!("\nplan with {}:\n", p.name));
                    for n in &p.plan_after {
                        out.push_str(&format!("  {n}\n"));
                    }
                }
            }
        }
        if let Some(w) = &self.whatif {
            out.push_str(&format!(
                "\nplanner: {} plans ({} more from cache), {} hypothetical indexes{}\n",
                w.plans,
                w.cached_plans,
                w.hypothetical_indexes,
                if w.analyzed > 0 {
                    format!(", {} queries measured with EXPLAIN ANALYZE", w.analyzed)
                } else {
                    String::new()
                }
            ));
        }
        let s = &self.summary;
        let drop_bytes = if self.mode == Mode::Offline {
            String::new()
        } else {
            format!(" ({})", output::bytes(s.drop_bytes.max(0) as u64))
        };
        out.push_str(&format!(
            "summary: {} new indexes{}, {} drops{}{}\n",
            s.indexes,
            s.index_bytes
                .map(|b| format!(" ({})", output::bytes(b.max(0) as u64)))
                .unwrap_or_default(),
            s.drops,
            drop_bytes,
            s.time_saved_pct
                .map(|p| format!(", about {p:.0}% of workload execution time saved"))
                .unwrap_or_default()
        ));
        out
    }
}
