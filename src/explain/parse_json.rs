//! JSON (and, through `serde_json::Value`, YAML) EXPLAIN output into the
//! model. Lenient about what it does not know (unknown keys land in
//! `extra`), strict about what it does (a known key with the wrong type is
//! an error naming the key and the node, never a silent zero).

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use super::model::{Buffers, Jit, Node, Plan, Trigger, Wal, Worker};

/// Deepest plan tree accepted; PostgreSQL plans are far shallower, and the
/// limit keeps recursive consumers safe from hostile input.
pub const MAX_DEPTH: usize = 1000;

/// All plans in a JSON text: one `[{"Plan": …}]` array, several arrays or
/// objects back to back (psql output of several EXPLAINs), a single
/// `{"Plan": …}` object, or a bare node object.
pub fn parse(text: &str) -> Result<Vec<Plan>> {
    let mut plans = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for value in stream {
        let value = value.map_err(|e| {
            anyhow!(
                "invalid JSON at line {} column {}: {e} (is the plan complete? \
                 EXPLAIN (FORMAT JSON) output starts with `[` and ends with `]`)",
                e.line(),
                e.column()
            )
        })?;
        plans.extend(plans_from_value(&value)?);
    }
    if plans.is_empty() {
        bail!("no plan found in the JSON input");
    }
    Ok(plans)
}

/// Plans from an already parsed value (JSON or YAML).
pub fn plans_from_value(value: &Value) -> Result<Vec<Plan>> {
    match value {
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.extend(plans_from_value(item).with_context(|| format!("plan #{}", i + 1))?);
            }
            Ok(out)
        }
        Value::Object(map) if map.contains_key("Plan") => Ok(vec![plan_from_map(map)?]),
        Value::Object(map) if map.contains_key("Node Type") => {
            let mut root = node_from_map(map, 0)?;
            root.assign_ids();
            Ok(vec![Plan {
                root,
                ..Plan::default()
            }])
        }
        Value::Object(_) => bail!(
            "a JSON object without a \"Plan\" key: expected EXPLAIN (FORMAT JSON) output \
             like [{{\"Plan\": {{\"Node Type\": …}}}}]"
        ),
        other => bail!(
            "expected EXPLAIN (FORMAT JSON) output (an array of {{\"Plan\": …}} objects), found {}",
            kind(other)
        ),
    }
}

fn plan_from_map(map: &Map<String, Value>) -> Result<Plan> {
    let mut plan = Plan::default();
    let root = map
        .get("Plan")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("\"Plan\" should be an object holding the root node"))?;
    plan.root = node_from_map(root, 0)?;
    plan.root.assign_ids();
    for (key, value) in map {
        match key.as_str() {
            "Plan" => {}
            "Planning Time" => plan.planning_time_ms = Some(number(key, value, "the plan")?),
            "Execution Time" | "Total Runtime" => {
                plan.execution_time_ms = Some(number(key, value, "the plan")?)
            }
            "Planning" => {
                let obj = value
                    .as_object()
                    .ok_or_else(|| anyhow!("\"Planning\" should be an object"))?;
                let mut b = Buffers::default();
                let mut any = false;
                for (k, v) in obj {
                    any |= apply_buffer_key(&mut b, k, v, "Planning")?;
                }
                if any {
                    plan.planning_buffers = Some(b);
                }
            }
            "Triggers" => {
                for t in array(key, value, "the plan")? {
                    plan.triggers.push(trigger_from_value(t)?);
                }
            }
            "JIT" => plan.jit = Some(jit_from_value(value)?),
            "Settings" => {
                let obj = value
                    .as_object()
                    .ok_or_else(|| anyhow!("\"Settings\" should be an object"))?;
                for (k, v) in obj {
                    plan.settings.insert(k.clone(), scalar_text(v));
                }
            }
            _ => {
                plan.extra.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(plan)
}

fn node_from_map(map: &Map<String, Value>, depth: usize) -> Result<Node> {
    if depth > MAX_DEPTH {
        bail!("the plan nests deeper than {MAX_DEPTH} levels");
    }
    let node_type = match map.get("Node Type") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => bail!("\"Node Type\" should be a string, found {}", kind(other)),
        None => bail!("a plan node without \"Node Type\""),
    };
    let mut node = Node {
        node_type,
        ..Node::default()
    };
    for (key, value) in map {
        match key.as_str() {
            "Node Type" => {}
            "Plans" => {
                for item in array(key, value, &node.node_type)? {
                    let obj = item.as_object().ok_or_else(|| {
                        anyhow!("\"Plans\" of {} should hold objects", node.node_type)
                    })?;
                    node.children.push(node_from_map(obj, depth + 1)?);
                }
            }
            _ => apply_node_property(&mut node, key, value)?,
        }
    }
    if node.actual_loops == Some(0.0) {
        // As TEXT shows it: `(never executed)`, no times.
        node.never_executed = true;
        node.actual_startup_time_ms = None;
        node.actual_total_time_ms = None;
    }
    Ok(node)
}

/// Set one EXPLAIN property on a node. Shared by the JSON and TEXT parsers
/// so a property means the same thing whatever the input format.
pub fn apply_node_property(node: &mut Node, key: &str, value: &Value) -> Result<()> {
    let who = node.node_type.clone();
    let num = |v: &Value| number(key, v, &who);
    let text = |v: &Value| -> Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(scalar_text(v)),
            other => bail!("\"{key}\" of {who} should be text, found {}", kind(other)),
        }
    };
    match key {
        "Strategy" => node.strategy = Some(text(value)?),
        "Partial Mode" => node.partial_mode = Some(text(value)?),
        "Operation" | "Command" => node.operation = Some(text(value)?),
        "Join Type" => node.join_type = Some(text(value)?),
        "Parallel Aware" => node.parallel_aware = boolean(key, value, &who)?,
        "Async Capable" => node.async_capable = boolean(key, value, &who)?,
        "Parent Relationship" => node.parent_relationship = Some(text(value)?),
        "Subplan Name" => node.subplan_name = Some(text(value)?),
        "Relation Name" => node.relation_name = Some(text(value)?),
        "Schema" => node.schema = Some(text(value)?),
        "Alias" => node.alias = Some(text(value)?),
        "Index Name" => node.index_name = Some(text(value)?),
        "CTE Name" => node.cte_name = Some(text(value)?),
        "Function Name" => node.function_name = Some(text(value)?),
        "Scan Direction" => node.scan_direction = Some(text(value)?),
        "Startup Cost" => node.startup_cost = Some(num(value)?),
        "Total Cost" => node.total_cost = Some(num(value)?),
        "Plan Rows" => node.plan_rows = Some(num(value)?),
        "Plan Width" => node.plan_width = Some(num(value)?),
        "Actual Startup Time" => node.actual_startup_time_ms = Some(num(value)?),
        "Actual Total Time" => node.actual_total_time_ms = Some(num(value)?),
        "Actual Rows" => node.actual_rows = Some(num(value)?),
        "Actual Loops" => node.actual_loops = Some(num(value)?),
        "Output" => node.output = string_list(key, value, &who)?,
        "Filter" => node.filter = Some(text(value)?),
        "Index Cond" => node.index_cond = Some(text(value)?),
        "Recheck Cond" => node.recheck_cond = Some(text(value)?),
        "Join Filter" => node.join_filter = Some(text(value)?),
        "Hash Cond" => node.hash_cond = Some(text(value)?),
        "Merge Cond" => node.merge_cond = Some(text(value)?),
        "One-Time Filter" => node.one_time_filter = Some(text(value)?),
        "Rows Removed by Filter" => node.rows_removed_by_filter = Some(num(value)?),
        "Rows Removed by Join Filter" => node.rows_removed_by_join_filter = Some(num(value)?),
        "Rows Removed by Index Recheck" => node.rows_removed_by_index_recheck = Some(num(value)?),
        "Sort Key" => node.sort_key = string_list(key, value, &who)?,
        "Presorted Key" => node.presorted_key = string_list(key, value, &who)?,
        "Group Key" => node.group_key = string_list(key, value, &who)?,
        "Sort Method" => node.sort_method = Some(text(value)?),
        "Sort Space Used" => node.sort_space_used_kb = Some(num(value)?),
        "Sort Space Type" => node.sort_space_type = Some(text(value)?),
        "Hash Buckets" => node.hash_buckets = Some(num(value)?),
        "Original Hash Buckets" => node.original_hash_buckets = Some(num(value)?),
        "Hash Batches" => node.hash_batches = Some(num(value)?),
        "Original Hash Batches" => node.original_hash_batches = Some(num(value)?),
        "Peak Memory Usage" => node.peak_memory_usage_kb = Some(num(value)?),
        "HashAgg Batches" => node.hashagg_batches = Some(num(value)?),
        "Disk Usage" => node.disk_usage_kb = Some(num(value)?),
        "Heap Fetches" => node.heap_fetches = Some(num(value)?),
        "Exact Heap Blocks" => node.exact_heap_blocks = Some(num(value)?),
        "Lossy Heap Blocks" => node.lossy_heap_blocks = Some(num(value)?),
        "Workers Planned" => node.workers_planned = Some(num(value)?),
        "Workers Launched" => node.workers_launched = Some(num(value)?),
        "WAL Records" => node.wal.get_or_insert_with(Wal::default).records = num(value)?,
        "WAL FPI" => node.wal.get_or_insert_with(Wal::default).fpi = num(value)?,
        "WAL Bytes" => node.wal.get_or_insert_with(Wal::default).bytes = num(value)?,
        "Workers" => {
            for item in array(key, value, &who)? {
                node.workers.push(worker_from_value(item, &who)?);
            }
        }
        _ => {
            let mut b = node.buffers.unwrap_or_default();
            if apply_buffer_key(&mut b, key, value, &who)? {
                node.buffers = Some(b);
            } else {
                node.extra.insert(key.to_string(), value.clone());
            }
        }
    }
    Ok(())
}

/// Set a `… Blocks` counter; false when `key` is not one.
fn apply_buffer_key(b: &mut Buffers, key: &str, value: &Value, who: &str) -> Result<bool> {
    let slot = match key {
        "Shared Hit Blocks" => &mut b.shared_hit,
        "Shared Read Blocks" => &mut b.shared_read,
        "Shared Dirtied Blocks" => &mut b.shared_dirtied,
        "Shared Written Blocks" => &mut b.shared_written,
        "Local Hit Blocks" => &mut b.local_hit,
        "Local Read Blocks" => &mut b.local_read,
        "Local Dirtied Blocks" => &mut b.local_dirtied,
        "Local Written Blocks" => &mut b.local_written,
        "Temp Read Blocks" => &mut b.temp_read,
        "Temp Written Blocks" => &mut b.temp_written,
        _ => return Ok(false),
    };
    *slot = number(key, value, who)?;
    Ok(true)
}

fn worker_from_value(value: &Value, who: &str) -> Result<Worker> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("a \"Workers\" entry of {who} should be an object"))?;
    let mut w = Worker::default();
    for (key, v) in obj {
        let num = || number(key, v, who);
        match key.as_str() {
            "Worker Number" => w.number = num()?.max(0.0) as u32,
            "Actual Total Time" => w.actual_total_time_ms = Some(num()?),
            "Actual Rows" => w.actual_rows = Some(num()?),
            "Actual Loops" => w.actual_loops = Some(num()?),
            "Sort Method" => w.sort_method = Some(scalar_text(v)),
            "Sort Space Used" => w.sort_space_used_kb = Some(num()?),
            "Sort Space Type" => w.sort_space_type = Some(scalar_text(v)),
            "HashAgg Batches" => w.hashagg_batches = Some(num()?),
            "Peak Memory Usage" => w.peak_memory_usage_kb = Some(num()?),
            "Disk Usage" => w.disk_usage_kb = Some(num()?),
            _ => {
                let mut b = w.buffers.unwrap_or_default();
                if apply_buffer_key(&mut b, key, v, who)? {
                    w.buffers = Some(b);
                } else {
                    w.extra.insert(key.clone(), v.clone());
                }
            }
        }
    }
    Ok(w)
}

fn trigger_from_value(value: &Value) -> Result<Trigger> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("a \"Triggers\" entry should be an object"))?;
    let mut t = Trigger::default();
    // TEXT names a constraint trigger by its constraint; so does the model.
    if let Some(name) = obj
        .get("Constraint Name")
        .or_else(|| obj.get("Trigger Name"))
    {
        t.name = scalar_text(name);
    }
    for (key, v) in obj {
        match key.as_str() {
            "Relation" => t.relation = Some(scalar_text(v)),
            "Time" => t.time_ms = Some(number(key, v, "a trigger")?),
            "Calls" => t.calls = Some(number(key, v, "a trigger")?),
            _ => {}
        }
    }
    Ok(t)
}

fn jit_from_value(value: &Value) -> Result<Jit> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("\"JIT\" should be an object"))?;
    let mut jit = Jit::default();
    for (key, v) in obj {
        match key.as_str() {
            "Functions" => jit.functions = Some(number(key, v, "JIT")?),
            "Options" => {
                for (k, o) in v.as_object().into_iter().flatten() {
                    jit.options.insert(k.clone(), boolean(k, o, "JIT")?);
                }
            }
            "Timing" => {
                for (k, t) in v.as_object().into_iter().flatten() {
                    // PostgreSQL 17 nests "Generation": {"Deform": …, "Total": …}.
                    match t {
                        Value::Object(inner) => {
                            if let Some(total) = inner.get("Total") {
                                jit.timing_ms.insert(k.clone(), number(k, total, "JIT")?);
                            }
                        }
                        _ => {
                            jit.timing_ms.insert(k.clone(), number(k, t, "JIT")?);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(jit)
}

/// A number, also accepted as a numeric string (YAML quotes some).
pub(crate) fn number(key: &str, value: &Value, who: &str) -> Result<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() => Ok(n),
        _ => bail!(
            "\"{key}\" of {who} should be a number, found {}",
            short(value)
        ),
    }
}

/// An array; YAML prints an empty one as nothing (null).
fn array<'v>(key: &str, value: &'v Value, who: &str) -> Result<&'v [Value]> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => bail!(
            "\"{key}\" of {who} should be an array, found {}",
            kind(other)
        ),
    }
}

fn boolean(key: &str, value: &Value, who: &str) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        other => bail!(
            "\"{key}\" of {who} should be true or false, found {}",
            short(other)
        ),
    }
}

fn string_list(key: &str, value: &Value, who: &str) -> Result<Vec<String>> {
    match value {
        Value::Array(items) => Ok(items.iter().map(scalar_text).collect()),
        Value::String(s) => Ok(vec![s.clone()]),
        other => bail!(
            "\"{key}\" of {who} should be a list of expressions, found {}",
            kind(other)
        ),
    }
}

pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    crate::output::shorten(&v.to_string(), 40)
}
