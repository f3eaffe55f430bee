//! What a plan says: exclusive ("self") time per node and findings, each
//! tied to a node with its numbers and a concrete fix. Pure functions over
//! the model; thresholds come from [`super::rules::Thresholds`].

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::model::{Node, Plan};
use super::predicates::{CondKind, Condition, conditions};
use super::rules::{Severity, Thresholds};
use crate::advise::candidate::{IndexCandidate, candidates};
use crate::advise::extract::{Pred, PredOp, SortKey, TableAccess};

/// Time spent in one node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NodeTiming {
    pub id: usize,
    /// Wall time including children, ms (parallel nodes: per process).
    pub inclusive_ms: f64,
    /// Wall time excluding children, ms.
    pub self_ms: f64,
    /// Self time / statement time, 0..1.
    pub share: f64,
}

/// One problem in a plan and how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable kebab-case rule id (docs/explain.md).
    pub rule: String,
    pub severity: Severity,
    /// 1-based position of the plan in the input.
    pub plan: usize,
    /// Node id (pre-order, root = 0), when the finding is about one node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What is wrong, with the numbers.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// The exact statement(s) that fix it, when there are some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexCandidate>,
    /// The figures behind the finding.
    pub figures: BTreeMap<String, f64>,
}

/// Timings and findings of one plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanAnalysis {
    /// Statement time the shares are relative to (Execution Time, else the root's time), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
    /// Per node, by id; empty without ANALYZE timing.
    pub timings: Vec<NodeTiming>,
    pub findings: Vec<Finding>,
}

/// The plan as a flat pre-order list with parent links.
struct Flat<'a> {
    nodes: Vec<&'a Node>,
    parent: Vec<Option<usize>>,
}

impl<'a> Flat<'a> {
    /// Relies on the parsers' pre-order ids (`Node::assign_ids`).
    fn new(root: &'a Node) -> Self {
        let nodes = root.walk();
        let mut parent = vec![None; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for c in &n.children {
                if let Some(slot) = parent.get_mut(c.id) {
                    *slot = Some(i);
                }
            }
        }
        Flat { nodes, parent }
    }

    fn ancestors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.parent[i], move |&p| self.parent[p])
    }
}

/// Analyze one plan (`index` is its 1-based position in the input).
pub fn analyze(plan: &Plan, index: usize, t: &Thresholds) -> PlanAnalysis {
    let flat = Flat::new(&plan.root);
    let timings = self_times(plan, &flat);
    let total_ms = plan
        .execution_time_ms
        .or_else(|| timings.first().map(|t| t.inclusive_ms));
    let mut findings = Vec::new();
    let mut ctx = Ctx {
        plan,
        index,
        flat: &flat,
        out: &mut findings,
    };
    for i in 0..flat.nodes.len() {
        if t.seq_scan_filter.enabled {
            ctx.seq_scan_filter(i, t);
        }
        if t.row_misestimate.enabled {
            ctx.row_misestimate(i, t);
        }
        if t.sort_spill.enabled {
            ctx.sort_spill(i, t);
        }
        if t.hash_spill.enabled {
            ctx.hash_spill(i, t);
        }
        if t.nested_loop_inner_scan.enabled {
            ctx.nested_loop(i, t);
        }
        if t.heap_fetches.enabled {
            ctx.heap_fetches(i, t);
        }
        if t.lossy_bitmap.enabled {
            ctx.lossy_bitmap(i, t);
        }
    }
    if t.jit_dominates.enabled {
        ctx.jit(t);
    }
    if t.planning_time.enabled {
        ctx.planning(t);
    }
    if t.buffers_read.enabled {
        ctx.buffers_read(t);
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.node_id.cmp(&b.node_id))
            .then(a.rule.cmp(&b.rule))
    });
    PlanAnalysis {
        total_ms,
        timings,
        findings,
    }
}

/// Exclusive time per node. A node's time includes its children's, so
/// self = inclusive − children. Parallel nodes report a per-process
/// average over `loops` processes; dividing time × loops by the number of
/// processes (workers launched + leader) gives their wall time. A CTE's
/// time is already inside the CTE Scans that read it, so it is taken off
/// them (in plan order) rather than counted twice. InitPlan and SubPlan
/// time is inside the node that evaluates them and is subtracted there.
// Parallel per-node arrays indexed by node id read clearer as index loops.
#[allow(clippy::needless_range_loop)]
fn self_times(plan: &Plan, flat: &Flat<'_>) -> Vec<NodeTiming> {
    let n = flat.nodes.len();
    if flat.nodes.iter().all(|x| x.actual_total_time_ms.is_none()) {
        return Vec::new();
    }
    let mut procs = vec![1.0f64; n];
    for i in 0..n {
        if let Some(p) = flat.parent[i] {
            let parent = flat.nodes[p];
            procs[i] = if matches!(parent.node_type.as_str(), "Gather" | "Gather Merge") {
                parent
                    .workers_launched
                    .or(parent.workers_planned)
                    .unwrap_or(0.0)
                    + 1.0
            } else {
                procs[p]
            };
        }
    }
    let inclusive: Vec<f64> = (0..n)
        .map(|i| {
            let node = flat.nodes[i];
            let time = node.actual_total_time_ms.unwrap_or(0.0);
            let loops = node.actual_loops.unwrap_or(1.0);
            (time * loops / procs[i].max(1.0)).max(0.0)
        })
        .collect();
    let mut self_ms = inclusive.clone();
    for i in 0..n {
        if let Some(p) = flat.parent[i] {
            let is_cte = flat.nodes[i]
                .subplan_name
                .as_deref()
                .is_some_and(|s| s.starts_with("CTE "));
            let is_initplan = flat.nodes[i].parent_relationship.as_deref() == Some("InitPlan");
            if !is_cte && !is_initplan {
                self_ms[p] -= inclusive[i];
            }
        }
    }
    // InitPlan time: inside the node whose expressions use its result.
    for i in 0..n {
        let node = flat.nodes[i];
        let Some(label) = node.subplan_name.as_deref() else {
            continue;
        };
        if node.parent_relationship.as_deref() != Some("InitPlan") || label.starts_with("CTE ") {
            continue;
        }
        let refs = initplan_refs(label);
        let subtree: Vec<usize> = node.walk().iter().map(|x| x.id).collect();
        let consumer = (0..n).find(|&j| {
            !subtree.contains(&j)
                && expressions(flat.nodes[j])
                    .iter()
                    .any(|e| refs.iter().any(|r| mentions(e, r)))
        });
        if let Some(j) = consumer {
            self_ms[j] -= inclusive[i];
        }
    }
    // CTE time: inside the scans that read the CTE.
    let mut cte_left: HashMap<String, f64> = HashMap::new();
    for i in 0..n {
        if let Some(name) = flat.nodes[i]
            .subplan_name
            .as_deref()
            .and_then(|s| s.strip_prefix("CTE "))
        {
            cte_left.insert(name.to_string(), inclusive[i]);
        }
    }
    for i in 0..n {
        let node = flat.nodes[i];
        if node.node_type == "CTE Scan"
            && let Some(left) = node.cte_name.as_ref().and_then(|c| cte_left.get_mut(c))
        {
            let take = left.min(self_ms[i].max(0.0));
            self_ms[i] -= take;
            *left -= take;
        }
    }
    let total = plan
        .execution_time_ms
        .unwrap_or(inclusive[0])
        .max(f64::MIN_POSITIVE);
    (0..n)
        .map(|i| {
            let s = self_ms[i].max(0.0);
            NodeTiming {
                id: i,
                inclusive_ms: inclusive[i],
                self_ms: s,
                share: (s / total).clamp(0.0, 1.0),
            }
        })
        .collect()
}

/// What an InitPlan's result is called in expressions: `$1` for
/// `InitPlan 2 (returns $1)`, `(InitPlan 2)` on PostgreSQL 17+.
fn initplan_refs(label: &str) -> Vec<String> {
    let mut refs = Vec::new();
    if let Some(r) = label.split("(returns ").nth(1) {
        for p in r.trim_end_matches(')').split(',') {
            refs.push(p.trim().to_string());
        }
    }
    if let Some(n) = label.strip_prefix("InitPlan ") {
        let num: String = n.chars().take_while(|c| c.is_ascii_digit()).collect();
        refs.push(format!("(InitPlan {num})"));
    }
    refs
}

/// Whether `text` mentions `r` as a whole token (`$1` but not `$10`).
fn mentions(text: &str, r: &str) -> bool {
    text.match_indices(r).any(|(i, _)| {
        !text[i + r.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

fn expressions(n: &Node) -> Vec<&str> {
    [
        &n.filter,
        &n.index_cond,
        &n.recheck_cond,
        &n.join_filter,
        &n.hash_cond,
        &n.merge_cond,
        &n.one_time_filter,
    ]
    .into_iter()
    .filter_map(|e| e.as_deref())
    .chain(n.output.iter().map(String::as_str))
    .collect()
}

struct Ctx<'a, 'b> {
    plan: &'a Plan,
    index: usize,
    flat: &'a Flat<'a>,
    out: &'b mut Vec<Finding>,
}

impl Ctx<'_, '_> {
    // One call site per rule; a builder would only rename these arguments.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: &str,
        severity: Severity,
        node: Option<usize>,
        message: String,
        fix: String,
        sql: Option<String>,
        index: Option<IndexCandidate>,
        figures: &[(&str, f64)],
    ) {
        self.out.push(Finding {
            rule: rule.to_string(),
            severity,
            plan: self.index,
            node_id: node,
            node: node.map(|i| self.flat.nodes[i].label()),
            message,
            fix,
            sql,
            index,
            figures: figures.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        });
    }

    fn seq_scan_filter(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        if !matches!(node.node_type.as_str(), "Seq Scan" | "Bitmap Heap Scan")
            || node.never_executed
        {
            return;
        }
        let (Some(rows), Some(loops), Some(removed)) = (
            node.actual_rows,
            node.actual_loops,
            node.rows_removed_by_filter,
        ) else {
            return;
        };
        let removed = removed * loops;
        let kept = rows * loops;
        let fraction = removed / (removed + kept).max(1.0);
        let r = &t.seq_scan_filter;
        if removed < r.min_rows_removed || fraction < r.min_removed_fraction {
            return;
        }
        let mut conds = own_conditions(node, node.filter.as_deref());
        conds.extend(own_conditions(node, node.recheck_cond.as_deref()));
        let order_by = self.sort_above(i);
        let candidate = candidate_for(node, &conds, &order_by);
        let message = format!(
            "{} reads {} rows and its filter throws away {} of them ({:.1}%): {}",
            node.label(),
            count(removed + kept),
            count(removed),
            fraction * 100.0,
            node.filter.as_deref().unwrap_or("")
        );
        let (fix, sql) = index_fix(&candidate, node, "an index on the filtered columns");
        self.push(
            "seq-scan-filter",
            r.severity,
            Some(i),
            message,
            fix,
            sql,
            candidate,
            &[
                ("rows_removed", removed),
                ("rows_kept", kept),
                ("removed_fraction", fraction),
                ("loops", loops),
            ],
        );
    }

    /// ORDER BY columns of a Sort right above scan `i`, when all are plain
    /// columns of the scanned relation.
    fn sort_above(&self, i: usize) -> Vec<SortKey> {
        let node = self.flat.nodes[i];
        let Some(p) = self.flat.parent[i] else {
            return Vec::new();
        };
        let parent = self.flat.nodes[p];
        if !matches!(parent.node_type.as_str(), "Sort" | "Incremental Sort") {
            return Vec::new();
        }
        let mut out = Vec::new();
        for key in &parent.sort_key {
            let mut words: Vec<&str> = key.split_whitespace().collect();
            let mut descending = false;
            let mut nulls_first = None;
            if words.len() >= 3 && words[words.len() - 2] == "NULLS" {
                nulls_first = Some(words[words.len() - 1] == "FIRST");
                words.truncate(words.len() - 2);
            }
            if words.last() == Some(&"DESC") {
                descending = true;
                words.pop();
            }
            if words.len() != 1 {
                return Vec::new();
            }
            let (qualifier, column) = match words[0].rsplit_once('.') {
                Some((q, c)) => (Some(q), c),
                None => (None, words[0]),
            };
            let column = column.trim_matches('"');
            if column.contains('(') || !belongs(node, qualifier) {
                return Vec::new();
            }
            out.push(SortKey {
                column: column.to_string(),
                descending,
                // PostgreSQL's default: NULLS FIRST for DESC, LAST for ASC.
                nulls_first: nulls_first.unwrap_or(descending),
            });
        }
        out
    }

    fn row_misestimate(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        let r = &t.row_misestimate;
        let Some(ratio) = misestimate(node, r.min_rows) else {
            return;
        };
        if ratio < r.factor || !is_scan_or_join(node) || self.may_stop_early(i) {
            return;
        }
        // Report where the error starts, not every node it spreads to.
        if node.children.iter().any(|c| {
            is_scan_or_join(c) && misestimate(c, r.min_rows).is_some_and(|x| x >= r.factor)
        }) {
            return;
        }
        let est = node.plan_rows.unwrap_or(0.0);
        let act = node.actual_rows.unwrap_or(0.0);
        let loops = node.actual_loops.unwrap_or(1.0);
        let direction = if act > est { "under" } else { "over" };
        let message = format!(
            "{} expected {} rows per loop, got {} ({:.0}× {direction}estimate, {} loops)",
            node.label(),
            count(est),
            count(act),
            ratio,
            count(loops)
        );
        let (fix, sql) = if let Some(table) = &node.relation_name {
            let target = qualified(node.schema.as_deref(), table);
            let mut conds = own_conditions(node, node.filter.as_deref());
            conds.extend(own_conditions(node, node.index_cond.as_deref()));
            conds.extend(own_conditions(node, node.recheck_cond.as_deref()));
            let mut eq_cols: Vec<String> = Vec::new();
            for c in &conds {
                if !c.wrapped && c.joined_with.is_none() && !eq_cols.contains(&c.column) {
                    eq_cols.push(c.column.clone());
                }
            }
            if let Some(w) = conds.iter().find(|c| c.wrapped) {
                (
                    format!(
                        "a function or cast around `{}` hides it from the column statistics: give the planner statistics on the expression (PostgreSQL 14+: CREATE STATISTICS … ON (expr) FROM {target}) or an expression index, then ANALYZE",
                        w.column
                    ),
                    Some(format!("ANALYZE {target};")),
                )
            } else if eq_cols.len() >= 2 {
                let cols: Vec<String> = eq_cols
                    .iter()
                    .map(|c| crate::ident::quote_ident(c))
                    .collect();
                let name = format!("{}_{}_stats", table, eq_cols.join("_"));
                let name: String = name.chars().take(63).collect();
                (
                    format!(
                        "the planner multiplies the selectivities of {} as if independent; extended statistics teach it they are correlated",
                        eq_cols.join(", ")
                    ),
                    Some(format!(
                        "CREATE STATISTICS IF NOT EXISTS {} (dependencies, ndistinct, mcv) ON {} FROM {target};\nANALYZE {target};",
                        crate::ident::quote_ident(&name),
                        cols.join(", ")
                    )),
                )
            } else {
                (
                    format!(
                        "statistics of {table} look stale: ANALYZE it (and check autovacuum keeps up with its churn)"
                    ),
                    Some(format!("ANALYZE {target};")),
                )
            }
        } else {
            let tables = self.tables_below(i);
            let list = tables.join(", ");
            (
                format!(
                    "the join estimate is off though its inputs are not: refresh statistics of {} and consider extended statistics on the join columns",
                    if list.is_empty() {
                        "the joined tables".to_string()
                    } else {
                        list.clone()
                    }
                ),
                (!tables.is_empty()).then(|| format!("ANALYZE {list};")),
            )
        };
        self.push(
            "row-misestimate",
            r.severity,
            Some(i),
            message,
            fix,
            sql,
            None,
            &[
                ("estimated_rows", est),
                ("actual_rows", act),
                ("loops", loops),
                ("factor", ratio),
            ],
        );
    }

    /// Whether a node may legitimately stop before producing all its rows
    /// (under a LIMIT, a merge join or a semi/anti join), so its actual
    /// count says nothing about the estimate.
    fn may_stop_early(&self, i: usize) -> bool {
        let node = self.flat.nodes[i];
        if node.parent_relationship.as_deref() == Some("SubPlan") {
            return true;
        }
        for a in self.flat.ancestors(i) {
            let anc = self.flat.nodes[a];
            match anc.node_type.as_str() {
                "Limit" | "Merge Join" => return true,
                "Nested Loop" | "Hash Join"
                    if matches!(anc.join_type.as_deref(), Some("Semi" | "Anti")) =>
                {
                    return true;
                }
                "Sort" | "Incremental Sort" | "Hash" | "Aggregate" | "SetOp" | "Materialize"
                | "WindowAgg" => return false,
                _ => {}
            }
        }
        false
    }

    fn tables_below(&self, i: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.flat.nodes[i].walk() {
            if let Some(t) = &n.relation_name {
                let q = qualified(n.schema.as_deref(), t);
                if !out.contains(&q) {
                    out.push(q);
                }
            }
        }
        out
    }

    fn sort_spill(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        if !matches!(node.node_type.as_str(), "Sort" | "Incremental Sort") {
            return;
        }
        let mut disk: Option<f64> = None;
        if node.sort_space_type.as_deref() == Some("Disk")
            || node
                .sort_method
                .as_deref()
                .is_some_and(|m| m.contains("external"))
        {
            disk = Some(node.sort_space_used_kb.unwrap_or(0.0));
        }
        for w in &node.workers {
            if w.sort_space_type.as_deref() == Some("Disk")
                || w.sort_method
                    .as_deref()
                    .is_some_and(|m| m.contains("external"))
            {
                disk = Some(disk.unwrap_or(0.0).max(w.sort_space_used_kb.unwrap_or(0.0)));
            }
        }
        let Some(disk_kb) = disk else { return };
        if disk_kb < t.sort_spill.min_disk_kb {
            return;
        }
        // An in-memory sort needs more room than its on-disk runs (tuple
        // headers, the SortTuple array): about twice as much.
        let need = work_mem_setting(disk_kb * 2.0);
        let message = format!(
            "{} spilled to disk: {} ({}) written by the busiest process",
            node.label(),
            crate::output::bytes((disk_kb * 1024.0) as u64),
            node.sort_method.as_deref().unwrap_or("external sort")
        );
        let fix = format!(
            "give this query work_mem ≥ {need} (SET LOCAL in its transaction, or ALTER ROLE … SET work_mem) rather than raising it server-wide: every sort and hash of every connection may use that much"
        );
        self.push(
            "sort-spill",
            t.sort_spill.severity,
            Some(i),
            message,
            fix,
            Some(format!("SET work_mem = '{need}';")),
            None,
            &[("disk_kb", disk_kb)],
        );
    }

    fn hash_spill(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        let multiplier = self
            .plan
            .settings
            .get("hash_mem_multiplier")
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(2.0)
            .max(1.0);
        let (batches, memory_kb, disk_kb) = match node.node_type.as_str() {
            "Hash" => {
                let b = node.hash_batches.unwrap_or(1.0);
                let peak = node.peak_memory_usage_kb.unwrap_or(0.0);
                (b, peak, peak * (b - 1.0).max(0.0))
            }
            "Aggregate" if node.strategy.as_deref() != Some("Plain") => {
                let mut b = node.hashagg_batches.unwrap_or(1.0);
                let mut disk = node.disk_usage_kb.unwrap_or(0.0);
                let mut peak = node.peak_memory_usage_kb.unwrap_or(0.0);
                for w in &node.workers {
                    b = b.max(w.hashagg_batches.unwrap_or(1.0));
                    disk = disk.max(w.disk_usage_kb.unwrap_or(0.0));
                    peak = peak.max(w.peak_memory_usage_kb.unwrap_or(0.0));
                }
                (b, peak, disk)
            }
            _ => return,
        };
        if batches <= 1.0 || disk_kb < t.hash_spill.min_disk_kb {
            return;
        }
        let need = work_mem_setting((memory_kb + disk_kb) / multiplier);
        let planned = node.original_hash_batches.filter(|o| *o < batches);
        let message = format!(
            "{} ran in {} batches{} with {} in memory per batch: the rest went to temporary files",
            node.label(),
            count(batches),
            planned
                .map(|o| format!(" (planned {})", count(o)))
                .unwrap_or_default(),
            crate::output::bytes((memory_kb * 1024.0) as u64)
        );
        let fix = format!(
            "give this query work_mem ≥ {need} (hash tables may use work_mem × hash_mem_multiplier, taken as {multiplier}) with SET LOCAL or ALTER ROLE … SET work_mem, not server-wide"
        );
        self.push(
            "hash-spill",
            t.hash_spill.severity,
            Some(i),
            message,
            fix,
            Some(format!("SET work_mem = '{need}';")),
            None,
            &[
                ("batches", batches),
                ("memory_kb", memory_kb),
                ("estimated_spill_kb", disk_kb),
            ],
        );
    }

    fn nested_loop(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        if node.node_type != "Nested Loop" || !node.analyzed() || node.never_executed {
            return;
        }
        let plain: Vec<&Node> = node
            .children
            .iter()
            .filter(|c| {
                !matches!(
                    c.parent_relationship.as_deref(),
                    Some("InitPlan" | "SubPlan")
                )
            })
            .collect();
        let Some(inner) = plain.get(1).copied() else {
            return;
        };
        // Through Materialize/Memoize to the scan that could use an index.
        let mut target = inner;
        while matches!(target.node_type.as_str(), "Materialize" | "Memoize") {
            match target.children.first() {
                Some(c) => target = c,
                None => return,
            }
        }
        if target.node_type != "Seq Scan" {
            return;
        }
        let loops = inner.actual_loops.unwrap_or(0.0);
        let per_loop =
            inner.actual_rows.unwrap_or(0.0) + inner.rows_removed_by_filter.unwrap_or(0.0);
        let r = &t.nested_loop_inner_scan;
        if loops < r.min_loops || per_loop < r.min_inner_rows {
            return;
        }
        let Some(table) = target.relation_name.clone() else {
            return;
        };
        let mut conds = own_conditions(target, node.join_filter.as_deref());
        conds.extend(own_conditions(target, target.filter.as_deref()));
        // Join columns first: they are what each loop looks up.
        conds.sort_by_key(|c| c.joined_with.is_none());
        let candidate = candidate_for(target, &conds, &[]);
        let examined = per_loop * loops;
        let removed_by_join =
            node.rows_removed_by_join_filter.unwrap_or(0.0) * node.actual_loops.unwrap_or(1.0);
        let message = format!(
            "{} runs its inner side {} {} times, {} rows each: {} rows examined{}",
            node.label(),
            target.label(),
            count(loops),
            count(per_loop),
            count(examined),
            if removed_by_join > 0.0 {
                format!(
                    ", {} thrown away by the join filter",
                    count(removed_by_join)
                )
            } else {
                String::new()
            }
        );
        let (fix, sql) = index_fix(
            &candidate,
            target,
            &format!("an index on {table}'s join columns"),
        );
        let fix = format!(
            "{fix}; each outer row then looks its matches up instead of rescanning {table}"
        );
        let target_id = target.id;
        self.push(
            "nested-loop-inner-scan",
            r.severity,
            Some(i),
            message,
            fix,
            sql,
            candidate,
            &[
                ("inner_loops", loops),
                ("inner_rows_per_loop", per_loop),
                ("rows_examined", examined),
                ("rows_removed_by_join_filter", removed_by_join),
                ("inner_node_id", target_id as f64),
            ],
        );
    }

    fn heap_fetches(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        if node.node_type != "Index Only Scan" {
            return;
        }
        let Some(fetches) = node.heap_fetches else {
            return;
        };
        let rows = node.total_actual_rows().unwrap_or(0.0);
        let fraction = fetches / rows.max(1.0);
        let r = &t.heap_fetches;
        if fetches < r.min_heap_fetches || fraction < r.min_fraction {
            return;
        }
        let table = node.relation_name.clone().unwrap_or_default();
        let target = qualified(node.schema.as_deref(), &table);
        let message = format!(
            "{} returned {} rows but visited the table {} times: the visibility map is out of date, so the index-only scan is not index-only",
            node.label(),
            count(rows),
            count(fetches)
        );
        let fix = format!(
            "VACUUM {table} to set the visibility map; if it keeps happening, make autovacuum visit it sooner (ALTER TABLE {target} SET (autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_scale_factor = 0.05))"
        );
        self.push(
            "heap-fetches",
            r.severity,
            Some(i),
            message,
            fix,
            Some(format!("VACUUM (ANALYZE) {target};")),
            None,
            &[
                ("heap_fetches", fetches),
                ("rows", rows),
                ("fraction", fraction),
            ],
        );
    }

    fn lossy_bitmap(&mut self, i: usize, t: &Thresholds) {
        let node = self.flat.nodes[i];
        if node.node_type != "Bitmap Heap Scan" {
            return;
        }
        let lossy = node.lossy_heap_blocks.unwrap_or(0.0);
        let r = &t.lossy_bitmap;
        if lossy < r.min_lossy_blocks || lossy <= 0.0 {
            return;
        }
        let exact = node.exact_heap_blocks.unwrap_or(0.0);
        // An exact bitmap keeps about 64 bytes per heap page (tidbitmap.c);
        // leave half again as headroom.
        let need = work_mem_setting((exact + lossy) * 64.0 * 1.5 / 1024.0);
        let rechecked = node.rows_removed_by_index_recheck.unwrap_or(0.0);
        let message = format!(
            "{} degraded {} of {} heap blocks to lossy: every row on them was rechecked ({} rows removed by the recheck)",
            node.label(),
            count(lossy),
            count(exact + lossy),
            count(rechecked)
        );
        let fix = format!(
            "the bitmap did not fit work_mem: give this query work_mem ≥ {need} (SET LOCAL or ALTER ROLE … SET work_mem)"
        );
        self.push(
            "lossy-bitmap",
            r.severity,
            Some(i),
            message,
            fix,
            Some(format!("SET work_mem = '{need}';")),
            None,
            &[
                ("lossy_blocks", lossy),
                ("exact_blocks", exact),
                ("rows_removed_by_recheck", rechecked),
            ],
        );
    }

    fn jit(&mut self, t: &Thresholds) {
        let (Some(jit), Some(exec)) = (&self.plan.jit, self.plan.execution_time_ms) else {
            return;
        };
        let Some(total) = jit.total_ms() else { return };
        let share = total / exec.max(f64::MIN_POSITIVE);
        let r = &t.jit_dominates;
        if total < r.min_jit_ms || share < r.min_share {
            return;
        }
        let cost = self.plan.root.total_cost.unwrap_or(0.0);
        let message = format!(
            "JIT compilation took {} of the {} execution ({:.0}%) for a plan of cost {:.0}",
            crate::output::duration_ms(total),
            crate::output::duration_ms(exec),
            share * 100.0,
            cost
        );
        let threshold = (cost * 10.0).max(100_000.0);
        let fix = format!(
            "compiling costs more than it saves here: turn JIT off for this workload (SET jit = off, or ALTER ROLE … SET jit = off), or raise jit_above_cost above this plan's cost (e.g. {threshold:.0})"
        );
        self.push(
            "jit-dominates",
            r.severity,
            Some(0),
            message,
            fix,
            Some("SET jit = off;".into()),
            None,
            &[("jit_ms", total), ("execution_ms", exec), ("share", share)],
        );
    }

    fn planning(&mut self, t: &Thresholds) {
        let (Some(planning), Some(exec)) =
            (self.plan.planning_time_ms, self.plan.execution_time_ms)
        else {
            return;
        };
        let r = &t.planning_time;
        if planning <= exec || planning < r.min_planning_ms {
            return;
        }
        let relations = self
            .flat
            .nodes
            .iter()
            .filter(|n| n.relation_name.is_some())
            .count();
        let message = format!(
            "planning took {} but execution only {} ({} relations in the plan)",
            crate::output::duration_ms(planning),
            crate::output::duration_ms(exec),
            relations
        );
        let fix = "plan once, run many times: use prepared statements (server-side prepare in the driver or pool) so the plan is cached; for many-way joins lower join_collapse_limit/from_collapse_limit, for many partitions make sure pruning happens at plan time".to_string();
        self.push(
            "planning-time",
            r.severity,
            None,
            message,
            fix,
            None,
            None,
            &[("planning_ms", planning), ("execution_ms", exec)],
        );
    }

    fn buffers_read(&mut self, t: &Thresholds) {
        let Some(root) = self.plan.root.buffers else {
            return;
        };
        let read = root.shared_read;
        let hit = root.shared_hit;
        let fraction = read / (read + hit).max(1.0);
        let r = &t.buffers_read;
        if read < r.min_read_blocks || fraction < r.min_read_fraction {
            return;
        }
        // The node that read the most pages itself.
        let mut best: Option<(usize, f64)> = None;
        for (i, n) in self.flat.nodes.iter().enumerate() {
            let own = n.buffers.map(|b| b.shared_read).unwrap_or(0.0)
                - n.children
                    .iter()
                    .filter_map(|c| c.buffers.map(|b| b.shared_read))
                    .sum::<f64>();
            if best.is_none_or(|(_, b)| own > b) {
                best = Some((i, own));
            }
        }
        let node = best.map(|(i, _)| i);
        let message = format!(
            "{} of {} shared buffers ({:.0}%) were read from outside shared_buffers (OS cache or disk): {} read",
            count(read),
            count(read + hit),
            fraction * 100.0,
            crate::output::bytes((read * 8192.0) as u64)
        );
        let fix = "the data this query touches is not in shared_buffers: make it touch fewer pages (an index, a narrower scan), or size shared_buffers for the working set (commonly 25% of RAM); after a restart, pg_prewarm warms it back".to_string();
        self.push(
            "buffers-read",
            r.severity,
            node,
            message,
            fix,
            None,
            None,
            &[
                ("shared_read", read),
                ("shared_hit", hit),
                ("read_fraction", fraction),
            ],
        );
    }
}

fn is_scan_or_join(n: &Node) -> bool {
    (n.node_type.contains("Scan") && n.node_type != "Bitmap Index Scan")
        || n.node_type.contains("Join")
        || n.node_type == "Nested Loop"
}

/// max(est, actual) / min(est, actual) per loop, when the rows are big enough to matter.
fn misestimate(n: &Node, min_rows: f64) -> Option<f64> {
    if n.never_executed {
        return None;
    }
    let est = n.plan_rows?;
    let act = n.actual_rows?;
    let loops = n.actual_loops?.max(1.0);
    if est.max(act) * loops < min_rows {
        return None;
    }
    Some(est.max(act) / est.min(act).max(1.0))
}

/// Conditions of an expression that are about `node`'s own relation.
fn own_conditions(node: &Node, expr: Option<&str>) -> Vec<Condition> {
    let Some(expr) = expr else { return Vec::new() };
    conditions(expr)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| belongs(node, c.qualifier.as_deref()))
        .collect()
}

/// Whether a column qualifier names `node`'s relation (unqualified columns do).
fn belongs(node: &Node, qualifier: Option<&str>) -> bool {
    match qualifier {
        None => true,
        Some(q) => node.alias.as_deref() == Some(q) || node.relation_name.as_deref() == Some(q),
    }
}

/// The index for a scan's conditions and the sort above it: the same
/// builder `advise` uses (`advise::candidate`), so the two never disagree.
/// A plan carries no statistics: the proposal is the partial variant when
/// the scan tests columns for NULL (the predicate moves into the index),
/// else the plain one (equality columns, then the sort or one range column).
fn candidate_for(node: &Node, conds: &[Condition], order_by: &[SortKey]) -> Option<IndexCandidate> {
    let table = node.relation_name.as_deref()?;
    let preds: Vec<Pred> = conds
        .iter()
        .filter(|c| !c.wrapped)
        .filter_map(|c| {
            let (op, constant) = match c.kind {
                CondKind::Equality => (PredOp::Eq, None),
                CondKind::Range => (PredOp::Range, None),
                CondKind::IsNull => (PredOp::IsNull, Some("NULL".to_string())),
                CondKind::IsNotNull => (PredOp::IsNotNull, Some("NULL".to_string())),
                CondKind::Other => return None,
            };
            Some(Pred {
                column: c.column.clone(),
                is_expression: false,
                op,
                constant,
                join: false,
            })
        })
        .collect();
    let access = TableAccess {
        schema: node.schema.clone().unwrap_or_default(),
        table: table.to_string(),
        preds,
        order_by: order_by.to_vec(),
        ..TableAccess::default()
    };
    let variants = candidates(&access, &crate::catalog::Catalog::empty());
    variants
        .iter()
        .find(|c| c.predicate.is_some())
        .or(variants.first())
        .cloned()
}

fn index_fix(
    candidate: &Option<IndexCandidate>,
    node: &Node,
    what: &str,
) -> (String, Option<String>) {
    match candidate {
        Some(c) => {
            let mut fix = format!("create {what}: {}", c.name());
            if c.schema.is_empty() {
                fix.push_str(" (the plan does not name the schema: qualify the table, or capture with EXPLAIN VERBOSE)");
            }
            // Ready to paste into psql.
            (fix, Some(format!("{};", c.ddl())))
        }
        None => (
            format!(
                "no plain index serves this condition on {} (the columns sit inside functions or casts, or the condition could not be read): consider an expression index matching the condition",
                node.relation_name.as_deref().unwrap_or("the table")
            ),
            None,
        ),
    }
}

fn qualified(schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(s) => crate::ident::quote_qualified(s, table),
        None => crate::ident::quote_ident(table),
    }
}

/// A work_mem value that fits `kb`: the next power of two, in kB or MB.
pub fn work_mem_setting(kb: f64) -> String {
    let kb = if kb.is_nan() {
        64.0
    } else {
        kb.clamp(64.0, 2_147_483_647.0)
    };
    let mut v: u64 = 64;
    while (v as f64) < kb {
        v *= 2;
    }
    if v >= 1024 {
        format!("{}MB", v / 1024)
    } else {
        format!("{v}kB")
    }
}

/// `12,345`: rows and blocks with thousands separators.
pub fn count(n: f64) -> String {
    if !n.is_finite() {
        return "-".into();
    }
    if n.fract().abs() > 1e-9 && n.abs() < 100.0 {
        return format!("{n:.2}");
    }
    let s = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_mem_rounds_up_to_a_power_of_two() {
        assert_eq!(work_mem_setting(10.0), "64kB");
        assert_eq!(work_mem_setting(100.0), "128kB");
        assert_eq!(work_mem_setting(7008.0), "8MB");
        assert_eq!(work_mem_setting(1024.0), "1MB");
    }

    #[test]
    fn counts() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(0.5), "0.50");
    }
}
