//! The plan tree as plain structs, the same whatever format it came from
//! (TEXT, JSON, YAML). Field names follow PostgreSQL's JSON property names
//! in snake_case; times are milliseconds, memory and disk sizes kilobytes,
//! row counts per loop as EXPLAIN prints them. Properties this model has no
//! field for are kept in `extra` under their EXPLAIN name, so nothing a
//! newer server prints is lost.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One EXPLAIN result: a plan tree plus the statement-level figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub root: Node,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planning_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planning_buffers: Option<Buffers>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jit: Option<Jit>,
    /// `SETTINGS` output: parameters changed from their defaults.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// Statement-level properties without a field (e.g. `Query Identifier`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// One plan node. `id` is the node's position in a pre-order walk of the
/// tree (root = 0); findings and timings refer to nodes by it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Node {
    pub id: usize,
    /// `Seq Scan`, `Hash Join`, `Aggregate`, `ModifyTable`… (JSON "Node Type").
    pub node_type: String,
    /// Aggregate/SetOp strategy: `Plain`, `Sorted`, `Hashed`, `Mixed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Aggregate split: `Simple`, `Partial`, `Finalize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_mode: Option<String>,
    /// ModifyTable operation (`Insert`, `Update`, `Delete`, `Merge`) or SetOp command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_type: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parallel_aware: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub async_capable: bool,
    /// `Outer`, `Inner`, `Member`, `Subquery`, `InitPlan`, `SubPlan`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_relationship: Option<String>,
    /// `InitPlan 1 (returns $0)`, `SubPlan 2`, `CTE name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subplan_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cte_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<f64>,
    /// Estimated rows per loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_rows: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_width: Option<f64>,
    /// Average time to the first row, per loop (absent with TIMING OFF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_startup_time_ms: Option<f64>,
    /// Average time to the last row, per loop (absent with TIMING OFF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_total_time_ms: Option<f64>,
    /// Average rows per loop (absent without ANALYZE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_loops: Option<f64>,
    /// ANALYZE ran the statement and this node never was (loops = 0).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub never_executed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_cond: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recheck_cond: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_cond: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_cond: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_filter: Option<String>,
    /// Per loop, as EXPLAIN prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_removed_by_filter: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_removed_by_join_filter: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_removed_by_index_recheck: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sort_key: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub presorted_key: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_key: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_space_used_kb: Option<f64>,
    /// `Memory` or `Disk`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_space_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_hash_buckets: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_batches: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_hash_batches: Option<f64>,
    /// Hash, HashAggregate, Memoize: peak memory in kB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_usage_kb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashagg_batches: Option<f64>,
    /// HashAggregate spill to disk in kB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_usage_kb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_fetches: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact_heap_blocks: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lossy_heap_blocks: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers_planned: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers_launched: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffers: Option<Buffers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal: Option<Wal>,
    /// Per-worker figures of a parallel node (`Worker N:` lines).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<Worker>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
    /// Properties without a field, under their EXPLAIN name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// `BUFFERS` counters, in 8 kB blocks (all zero when the text showed none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Buffers {
    pub shared_hit: f64,
    pub shared_read: f64,
    pub shared_dirtied: f64,
    pub shared_written: f64,
    pub local_hit: f64,
    pub local_read: f64,
    pub local_dirtied: f64,
    pub local_written: f64,
    pub temp_read: f64,
    pub temp_written: f64,
}

/// `WAL` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Wal {
    pub records: f64,
    pub fpi: f64,
    pub bytes: f64,
}

/// One parallel worker's figures for a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Worker {
    pub number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_total_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_loops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_space_used_kb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_space_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashagg_batches: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_usage_kb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_usage_kb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffers: Option<Buffers>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// Time spent in one trigger (`Trigger name: time=… calls=…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trigger {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<f64>,
}

/// The `JIT:` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Jit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub functions: Option<f64>,
    /// `Inlining`, `Optimization`, `Expressions`, `Deforming` → on/off.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, bool>,
    /// `Generation`, `Inlining`, `Optimization`, `Emission`, `Total`… in ms.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub timing_ms: BTreeMap<String, f64>,
}

impl Jit {
    pub fn total_ms(&self) -> Option<f64> {
        self.timing_ms.get("Total").copied()
    }
}

impl Buffers {
    pub fn is_zero(&self) -> bool {
        *self == Buffers::default()
    }
}

impl Node {
    /// Short human label: `Seq Scan on customers c`, `Hash Left Join`,
    /// `Index Scan using customers_pkey on customers`.
    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.parallel_aware {
            s.push_str("Parallel ");
        }
        if let Some(m @ ("Partial" | "Finalize")) = self.partial_mode.as_deref() {
            s.push_str(m);
            s.push(' ');
        }
        let base = match (self.node_type.as_str(), self.strategy.as_deref()) {
            ("Aggregate", Some("Hashed")) => "HashAggregate".to_string(),
            ("Aggregate", Some("Sorted")) => "GroupAggregate".to_string(),
            ("Aggregate", Some("Mixed")) => "MixedAggregate".to_string(),
            ("ModifyTable", _) => self
                .operation
                .clone()
                .unwrap_or_else(|| "ModifyTable".into()),
            ("Hash Join" | "Merge Join" | "Nested Loop", _) => {
                let head = self.node_type.trim_end_matches(" Join");
                match self.join_type.as_deref() {
                    None | Some("Inner") => self.node_type.clone(),
                    Some(j) => format!("{head} {j} Join"),
                }
            }
            (t, _) => t.to_string(),
        };
        s.push_str(&base);
        if self.scan_direction.as_deref() == Some("Backward") {
            s.push_str(" Backward");
        }
        let object = self
            .relation_name
            .as_deref()
            .or(self.cte_name.as_deref())
            .or(self.function_name.as_deref());
        if let Some(index) = &self.index_name {
            if self.node_type == "Bitmap Index Scan" {
                s.push_str(" on ");
                s.push_str(index);
                return s;
            }
            s.push_str(" using ");
            s.push_str(index);
        }
        if let Some(obj) = object {
            s.push_str(" on ");
            if let Some(schema) = &self.schema {
                s.push_str(schema);
                s.push('.');
            }
            s.push_str(obj);
            if let Some(alias) = &self.alias
                && alias != obj
            {
                s.push(' ');
                s.push_str(alias);
            }
        } else if let Some(alias) = &self.alias {
            s.push_str(" on ");
            s.push_str(alias);
        }
        s
    }

    /// Whether the statement ran under ANALYZE (this node may still be never executed).
    pub fn analyzed(&self) -> bool {
        self.actual_loops.is_some()
    }

    /// Rows this node produced over all its loops.
    pub fn total_actual_rows(&self) -> Option<f64> {
        Some(self.actual_rows? * self.actual_loops?)
    }

    /// Pre-order walk over the subtree (iterative: deep plans cannot overflow the stack).
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            out.push(n);
            for c in n.children.iter().rev() {
                stack.push(c);
            }
        }
        out
    }

    /// Number the nodes in pre-order.
    pub fn assign_ids(&mut self) {
        let mut next = 0;
        let mut stack: Vec<&mut Node> = vec![self];
        while let Some(n) = stack.pop() {
            n.id = next;
            next += 1;
            for c in n.children.iter_mut().rev() {
                stack.push(c);
            }
        }
    }
}
