//! TEXT EXPLAIN output into the model. The tree comes from indentation:
//! a node line is `->  Name  (cost=…) (actual …)` (the root has no arrow),
//! detail lines (`Filter: …`, `Buffers: …`) sit two columns right of their
//! node's name, subplan labels (`InitPlan 1 (returns $0)`, `SubPlan 2`,
//! `CTE name`) introduce the next child, and statement lines (`Planning
//! Time:`, `JIT:`, `Trigger …`, `Execution Time:`) sit at the root's
//! column. Only relative indentation matters, so pasted plans shifted by
//! any margin parse the same. Several plans may follow each other.
//!
//! Property names are those of the JSON format; values go through
//! [`super::parse_json::apply_node_property`] so TEXT and JSON agree.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use super::input::Line;
use super::model::{Buffers, Jit, Node, Plan, Trigger, Wal, Worker};
use super::parse_json::{MAX_DEPTH, apply_node_property};

/// Parse every plan in the lines (psql decoration already removed).
pub fn parse(lines: &[Line]) -> Result<Vec<Plan>> {
    let mut plans = Vec::new();
    let mut cur: Option<PlanBuilder> = None;
    // Skip anything before the first line that looks like a node (an echoed
    // query, a prompt); without one, the first line is the root (COSTS OFF).
    let has_estimates = lines.iter().any(|l| looks_like_node(l.text.trim_start()));
    let mut started = false;
    for line in lines {
        let raw = line.text.as_str();
        if raw.trim().is_empty() {
            continue;
        }
        let col = indent(raw);
        let body = raw.trim_start();
        let ctx = || format!("line {}: {}", line.no, shorten(body));
        if !started {
            if has_estimates && !looks_like_node(body) && !body.starts_with("->") {
                continue;
            }
            started = true;
        }
        let new_root = match &cur {
            None => true,
            Some(b) => {
                !body.starts_with("->")
                    && col <= b.root_col
                    && (looks_like_node(body) || (!body.contains(": ") && !body.ends_with(':')))
                    && !is_statement_line(body)
            }
        };
        if new_root {
            if let Some(b) = cur.take() {
                plans.push(b.finish());
            }
            let node = parse_node_line(body.strip_prefix("->").unwrap_or(body).trim_start())
                .with_context(ctx)?;
            cur = Some(PlanBuilder::new(node, col));
            continue;
        }
        let Some(b) = cur.as_mut() else { continue };
        b.line(col, body).with_context(ctx)?;
    }
    if let Some(b) = cur.take() {
        plans.push(b.finish());
    }
    if plans.is_empty() {
        bail!(
            "no plan found: expected EXPLAIN output such as `Seq Scan on t  (cost=0.00..1.10 rows=10 width=4)`"
        );
    }
    Ok(plans)
}

struct Open {
    node: Node,
    /// Column where the node's name starts.
    name_col: usize,
    /// Column of the current `Worker N:` line and the worker index.
    worker: Option<(usize, usize)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Planning,
    Jit,
    Other,
}

struct PlanBuilder {
    plan: Plan,
    stack: Vec<Open>,
    root_col: usize,
    /// A subplan label waiting for the node it introduces.
    pending: Option<String>,
    tree_done: bool,
    section: Option<Section>,
}

impl PlanBuilder {
    fn new(root: Node, col: usize) -> Self {
        PlanBuilder {
            plan: Plan::default(),
            stack: vec![Open {
                node: root,
                name_col: col,
                worker: None,
            }],
            root_col: col,
            pending: None,
            tree_done: false,
            section: None,
        }
    }

    /// Close open nodes down to (not including) the root while `keep` is false.
    fn pop_while(&mut self, mut close: impl FnMut(&Open) -> bool) {
        while self.stack.len() > 1 && self.stack.last().is_some_and(&mut close) {
            if let Some(done) = self.stack.pop()
                && let Some(parent) = self.stack.last_mut()
            {
                parent.node.children.push(done.node);
            }
        }
    }

    fn line(&mut self, col: usize, body: &str) -> Result<()> {
        if col <= self.root_col {
            self.tree_done = true;
            return self.statement_line(body);
        }
        if self.tree_done {
            if body.starts_with("->") {
                bail!("a plan node after the statement summary: the plan text is out of order");
            }
            return self.section_line(body);
        }
        if let Some(rest) = body.strip_prefix("->") {
            let name_col = col + 2 + (rest.len() - rest.trim_start().len());
            self.pop_while(|o| o.name_col >= col);
            if self.stack.len() > MAX_DEPTH {
                bail!("the plan nests deeper than {MAX_DEPTH} levels");
            }
            let mut node = parse_node_line(rest.trim_start())?;
            if let Some(label) = self.pending.take() {
                node.parent_relationship = Some(
                    if label.starts_with("SubPlan") {
                        "SubPlan"
                    } else {
                        "InitPlan"
                    }
                    .to_string(),
                );
                node.subplan_name = Some(label);
            }
            self.stack.push(Open {
                node,
                name_col,
                worker: None,
            });
            return Ok(());
        }
        if is_subplan_label(body) {
            self.pop_while(|o| o.name_col >= col);
            self.pending = Some(body.trim_end().to_string());
            return Ok(());
        }
        self.pop_while(|o| o.name_col >= col);
        let Some(open) = self.stack.last_mut() else {
            return Ok(());
        };
        if let Some((wcol, idx)) = open.worker
            && col > wcol
            && let Some(w) = open.node.workers.get_mut(idx)
        {
            return worker_detail(w, body);
        }
        open.worker = None;
        if let Some((number, rest)) = worker_prefix(body) {
            let mut w = Worker {
                number,
                ..Worker::default()
            };
            if !rest.is_empty() {
                worker_detail(&mut w, rest)?;
            }
            open.node.workers.push(w);
            open.worker = Some((col, open.node.workers.len() - 1));
            return Ok(());
        }
        node_detail(&mut open.node, body)
    }

    fn statement_line(&mut self, body: &str) -> Result<()> {
        self.section = None;
        let lower = body.to_ascii_lowercase();
        if body == "Planning:" {
            self.section = Some(Section::Planning);
        } else if body == "JIT:" {
            self.section = Some(Section::Jit);
            self.plan.jit.get_or_insert_with(Jit::default);
        } else if let Some(v) = lower.strip_prefix("planning time:") {
            self.plan.planning_time_ms = Some(ms(v)?);
        } else if let Some(v) = lower
            .strip_prefix("execution time:")
            .or_else(|| lower.strip_prefix("total runtime:"))
        {
            self.plan.execution_time_ms = Some(ms(v)?);
        } else if let Some(rest) = body.strip_prefix("Trigger ") {
            self.plan.triggers.push(trigger(rest)?);
        } else if let Some(rest) = body.strip_prefix("Settings:") {
            for item in split_top_level(rest.trim(), ',') {
                if let Some((k, v)) = item.split_once('=') {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('\'')
                        .and_then(|v| v.strip_suffix('\''))
                        .map(|v| v.replace("''", "'"))
                        .unwrap_or_else(|| v.to_string());
                    self.plan.settings.insert(k.trim().to_string(), v);
                }
            }
        } else if let Some((k, v)) = body.split_once(':') {
            let v = v.trim();
            if v.is_empty() {
                self.section = Some(Section::Other);
            }
            self.plan.extra.insert(k.trim().to_string(), text_value(v));
        } else {
            push_detail(&mut self.plan.extra, body);
        }
        Ok(())
    }

    fn section_line(&mut self, body: &str) -> Result<()> {
        match self.section {
            Some(Section::Planning) => {
                if let Some(v) = body.strip_prefix("Buffers:") {
                    self.plan.planning_buffers = Some(buffers(v)?);
                } else {
                    push_detail(&mut self.plan.extra, &format!("Planning: {body}"));
                }
            }
            Some(Section::Jit) => {
                let jit = self.plan.jit.get_or_insert_with(Jit::default);
                if let Some(v) = body.strip_prefix("Functions:") {
                    jit.functions = Some(num(v.trim())?);
                } else if let Some(v) = body.strip_prefix("Options:") {
                    for item in split_top_level(v.trim(), ',') {
                        if let Some((k, on)) = item.rsplit_once(' ') {
                            jit.options
                                .insert(k.trim().to_string(), on.trim() == "true");
                        }
                    }
                } else if let Some(v) = body.strip_prefix("Timing:") {
                    for item in split_top_level(v.trim(), ',') {
                        // "Generation 0.527 ms" or, on PostgreSQL 17, "Generation 1.2 ms (Deform 0.3 ms)"
                        let item = item.split(" (").next().unwrap_or(item).trim();
                        let mut words = item.split_whitespace();
                        if let (Some(name), Some(value)) = (words.next(), words.next()) {
                            jit.timing_ms.insert(name.to_string(), num(value)?);
                        }
                    }
                }
            }
            _ => push_detail(&mut self.plan.extra, body),
        }
        Ok(())
    }

    fn finish(mut self) -> Plan {
        self.pop_while(|_| true);
        let mut root = match self.stack.pop() {
            Some(o) => o.node,
            None => Node::default(),
        };
        infer_relationships(&mut root);
        root.assign_ids();
        self.plan.root = root;
        self.plan
    }
}

/// TEXT shows no `Parent Relationship`; derive it the way PostgreSQL assigns it.
fn infer_relationships(root: &mut Node) {
    let mut stack: Vec<&mut Node> = vec![root];
    while let Some(n) = stack.pop() {
        let member = matches!(
            n.node_type.as_str(),
            "Append" | "Merge Append" | "BitmapAnd" | "BitmapOr" | "Custom Scan"
        );
        let subquery = n.node_type == "Subquery Scan";
        let mut plain = 0;
        for c in n.children.iter_mut() {
            if c.parent_relationship.is_none() {
                let rel = if member {
                    "Member"
                } else if subquery {
                    "Subquery"
                } else if plain == 0 {
                    "Outer"
                } else {
                    "Inner"
                };
                c.parent_relationship = Some(rel.to_string());
                plain += 1;
            }
        }
        for c in n.children.iter_mut() {
            stack.push(c);
        }
    }
}

fn is_statement_line(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    lower.starts_with("planning")
        || lower.starts_with("execution time")
        || lower.starts_with("total runtime")
        || body.starts_with("Trigger ")
        || body == "JIT:"
}

fn is_subplan_label(body: &str) -> bool {
    let first = body.split_whitespace().next().unwrap_or("");
    matches!(first, "InitPlan" | "SubPlan" | "CTE") && !body.contains(": ")
}

fn worker_prefix(body: &str) -> Option<(u32, &str)> {
    let rest = body.strip_prefix("Worker ")?;
    let (n, rest) = rest.split_once(':')?;
    let n = n.trim().parse::<u32>().ok()?;
    Some((n, rest.trim()))
}

/// Whether a line is a plan node header (has the estimate or actual parentheses).
fn looks_like_node(body: &str) -> bool {
    estimates_start(body).is_some()
}

fn estimates_start(s: &str) -> Option<usize> {
    ["(cost=", "(actual ", "(never executed)"]
        .iter()
        .filter_map(|p| s.find(p))
        .min()
}

/// `Seq Scan on customers c  (cost=0.00..223.00 rows=1 width=15) (actual time=…)`.
fn parse_node_line(s: &str) -> Result<Node> {
    let (name, estimates) = match estimates_start(s) {
        Some(i) => (s[..i].trim_end(), &s[i..]),
        None => (s.trim_end(), ""),
    };
    if name.is_empty() {
        bail!("a plan node without a name");
    }
    let mut node = Node::default();
    parse_name(&mut node, name);
    let mut rest = estimates.trim();
    while let Some(inner_start) = rest.strip_prefix('(') {
        let close = inner_start.find(')').ok_or_else(|| {
            anyhow!("unclosed parenthesis in the estimates: the line looks truncated")
        })?;
        let inner = &inner_start[..close];
        if let Some(v) = inner.strip_prefix("cost=") {
            for (k, v) in pairs(&format!("cost={v}"))? {
                match k {
                    "cost" => {
                        let (a, b) = range(v)?;
                        node.startup_cost = Some(a);
                        node.total_cost = Some(b);
                    }
                    "rows" => node.plan_rows = Some(num(v)?),
                    "width" => node.plan_width = Some(num(v)?),
                    _ => {}
                }
            }
        } else if let Some(v) = inner.strip_prefix("actual") {
            for (k, v) in pairs(v.trim())? {
                match k {
                    "time" => {
                        let (a, b) = range(v)?;
                        node.actual_startup_time_ms = Some(a);
                        node.actual_total_time_ms = Some(b);
                    }
                    "rows" => node.actual_rows = Some(num(v)?),
                    "loops" => node.actual_loops = Some(num(v)?),
                    _ => {}
                }
            }
        } else if inner == "never executed" {
            node.never_executed = true;
            node.actual_rows = Some(0.0);
            node.actual_loops = Some(0.0);
        }
        rest = inner_start[close + 1..].trim_start();
    }
    Ok(node)
}

fn parse_name(node: &mut Node, name: &str) {
    let mut rest = name;
    if let Some(r) = rest.strip_prefix("Parallel ") {
        node.parallel_aware = true;
        rest = r;
    }
    if let Some(r) = rest.strip_prefix("Async ") {
        node.async_capable = true;
        rest = r;
    }
    const AGGS: [(&str, &str); 4] = [
        ("Aggregate", "Plain"),
        ("HashAggregate", "Hashed"),
        ("GroupAggregate", "Sorted"),
        ("MixedAggregate", "Mixed"),
    ];
    let mut partial = "Simple";
    for (prefix, mode) in [("Partial ", "Partial"), ("Finalize ", "Finalize")] {
        if let Some(r) = rest.strip_prefix(prefix)
            && AGGS.iter().any(|(a, _)| r == *a)
        {
            partial = mode;
            rest = r;
        }
    }
    if let Some((_, strategy)) = AGGS.iter().find(|(a, _)| rest == *a) {
        node.node_type = "Aggregate".into();
        node.strategy = Some((*strategy).into());
        node.partial_mode = Some(partial.into());
        return;
    }
    for (prefix, strategy) in [("HashSetOp ", "Hashed"), ("SetOp ", "Sorted")] {
        if let Some(cmd) = rest.strip_prefix(prefix) {
            node.node_type = "SetOp".into();
            node.strategy = Some(strategy.into());
            node.operation = Some(cmd.trim().into());
            return;
        }
    }
    for op in ["Insert", "Update", "Delete", "Merge"] {
        if let Some(target) = rest.strip_prefix(op).and_then(|r| r.strip_prefix(" on ")) {
            node.node_type = "ModifyTable".into();
            node.operation = Some(op.into());
            set_target(node, target, Target::Relation);
            return;
        }
    }
    if let Some(r) = rest.strip_prefix("Nested Loop") {
        node.node_type = "Nested Loop".into();
        node.join_type = Some(join_type(r));
        return;
    }
    for head in ["Hash", "Merge"] {
        if let Some(r) = rest.strip_prefix(head)
            && r.ends_with("Join")
            && (r.starts_with(' '))
        {
            node.node_type = format!("{head} Join");
            node.join_type = Some(join_type(r));
            return;
        }
    }
    for scan in ["Index Only Scan", "Index Scan"] {
        if let Some(mut r) = rest.strip_prefix(scan) {
            node.node_type = scan.into();
            node.scan_direction = Some("Forward".into());
            if let Some(x) = r.strip_prefix(" Backward") {
                node.scan_direction = Some("Backward".into());
                r = x;
            }
            if let Some(x) = r.strip_prefix(" using ") {
                let (index, target) = match x.find(" on ") {
                    Some(i) => (&x[..i], Some(&x[i + 4..])),
                    None => (x, None),
                };
                node.index_name = Some(unquote(index.trim()));
                if let Some(t) = target {
                    set_target(node, t, Target::Relation);
                }
            }
            return;
        }
    }
    if let Some(index) = rest.strip_prefix("Bitmap Index Scan on ") {
        node.node_type = "Bitmap Index Scan".into();
        node.index_name = Some(unquote(index.trim()));
        return;
    }
    if let Some(i) = rest.find(" on ") {
        let kind = &rest[..i];
        let target = &rest[i + 4..];
        node.node_type = kind.to_string();
        let t = match kind {
            "Function Scan" => Target::Function,
            "CTE Scan" | "WorkTable Scan" => Target::Cte,
            "Subquery Scan" | "Values Scan" => Target::AliasOnly,
            "Named Tuplestore Scan" => Target::Extra("Tuplestore Name"),
            "Table Function Scan" => Target::Extra("Table Function Name"),
            _ => Target::Relation,
        };
        set_target(node, target, t);
        return;
    }
    node.node_type = rest.to_string();
}

fn join_type(r: &str) -> String {
    let t = r.trim().trim_end_matches("Join").trim();
    if t.is_empty() {
        "Inner".into()
    } else {
        t.to_string()
    }
}

enum Target {
    Relation,
    Function,
    Cte,
    AliasOnly,
    Extra(&'static str),
}

/// `app.customers c`, `"Odd Name" x`, `customers`.
fn set_target(node: &mut Node, target: &str, kind: Target) {
    let words = split_words(target.trim());
    let (object, alias) = match (&kind, words.as_slice()) {
        (Target::AliasOnly, [a, ..]) => (None, Some(unquote(a))),
        (_, [o]) => (Some(o.as_str()), None),
        (_, [o, a, ..]) => (Some(o.as_str()), Some(unquote(a))),
        _ => (None, None),
    };
    let (schema, name) = match object {
        Some(o) => {
            let parts = split_top_level(o, '.');
            match parts.as_slice() {
                [s, n] => (Some(unquote(s)), Some(unquote(n))),
                _ => (None, Some(unquote(o))),
            }
        }
        None => (None, None),
    };
    node.schema = schema;
    node.alias = alias.or_else(|| name.clone());
    match kind {
        Target::Relation => node.relation_name = name,
        Target::Function => node.function_name = name,
        Target::Cte => node.cte_name = name,
        Target::AliasOnly => {}
        Target::Extra(key) => {
            if let Some(n) = name {
                node.extra.insert(key.to_string(), Value::String(n));
            }
        }
    }
}

/// One `Key: value` detail line of a node.
fn node_detail(node: &mut Node, body: &str) -> Result<()> {
    let Some((key, value)) = body.split_once(':') else {
        push_detail(&mut node.extra, body);
        return Ok(());
    };
    let key = key.trim();
    let value = value.trim();
    match key {
        "Buffers" => {
            let b = buffers(value)?;
            node.buffers = Some(b);
        }
        "WAL" => {
            let mut w = Wal::default();
            for (k, v) in pairs(value)? {
                match k {
                    "records" => w.records = num(v)?,
                    "fpi" => w.fpi = num(v)?,
                    "bytes" => w.bytes = num(v)?,
                    _ => {}
                }
            }
            node.wal = Some(w);
        }
        "Heap Blocks" => {
            for (k, v) in pairs(value)? {
                match k {
                    "exact" => node.exact_heap_blocks = Some(num(v)?),
                    "lossy" => node.lossy_heap_blocks = Some(num(v)?),
                    _ => {}
                }
            }
        }
        "Sort Method" | "Buckets" | "Batches" | "Planned Partitions" | "Hits" => {
            let hash = key == "Buckets";
            for (k, v) in segments(body) {
                if k == "Buckets" || k == "Batches" {
                    // "4096 (originally 1024)": JSON always carries both numbers.
                    let now = num(v.split_whitespace().next().unwrap_or(""))?;
                    let original = match v.split("originally").nth(1) {
                        Some(o) => num(o.trim().trim_end_matches(')'))?,
                        None => now,
                    };
                    let (current, orig) = match (k, hash) {
                        ("Buckets", _) => ("Hash Buckets", Some("Original Hash Buckets")),
                        (_, true) => ("Hash Batches", Some("Original Hash Batches")),
                        _ => ("HashAgg Batches", None),
                    };
                    apply_node_property(node, current, &number_value(now))?;
                    if let Some(o) = orig {
                        apply_node_property(node, o, &number_value(original))?;
                    }
                    continue;
                }
                if k == "Memory" || k == "Disk" {
                    apply_node_property(node, "Sort Space Type", &Value::String(k.into()))?;
                }
                let (k, v) = composite_key(k, v)?;
                apply_node_property(node, &k, &v)?;
            }
        }
        "Output" | "Sort Key" | "Presorted Key" | "Group Key" => {
            let items = split_top_level(value, ',')
                .into_iter()
                .map(|s| Value::String(s.to_string()))
                .collect();
            apply_node_property(node, key, &Value::Array(items))?;
        }
        _ => apply_node_property(node, key, &text_value(value))?,
    }
    Ok(())
}

/// Map a segment of a composite line (`Memory: 35kB`, `Buckets: 4096
/// (originally 1024)`) to its JSON property.
fn composite_key(k: &str, v: &str) -> Result<(String, Value)> {
    let kb = |v: &str| -> Result<Value> { Ok(number_value(num(v.trim_end_matches("kB"))?)) };
    Ok(match k {
        "Sort Method" => ("Sort Method".into(), Value::String(v.into())),
        "Memory" => ("Sort Space Used".into(), kb(v)?),
        "Disk" => ("Sort Space Used".into(), kb(v)?),
        "Memory Usage" => ("Peak Memory Usage".into(), kb(v)?),
        "Disk Usage" => ("Disk Usage".into(), kb(v)?),
        "Buckets" | "Batches" => {
            // "4096 (originally 1024)": the JSON has both.
            let now = v.split_whitespace().next().unwrap_or("");
            (
                if k == "Buckets" {
                    "Hash Buckets"
                } else {
                    "Batches"
                }
                .into(),
                number_value(num(now)?),
            )
        }
        "Hits" => ("Cache Hits".into(), number_value(num(v)?)),
        "Misses" => ("Cache Misses".into(), number_value(num(v)?)),
        "Evictions" => ("Cache Evictions".into(), number_value(num(v)?)),
        "Overflows" => ("Cache Overflows".into(), number_value(num(v)?)),
        other => (other.to_string(), text_value(v)),
    })
}

/// Details inside a `Worker N:` block.
fn worker_detail(w: &mut Worker, body: &str) -> Result<()> {
    if let Some(v) = body.strip_prefix("actual") {
        for (k, v) in pairs(v.trim())? {
            match k {
                "time" => w.actual_total_time_ms = Some(range(v)?.1),
                "rows" => w.actual_rows = Some(num(v)?),
                "loops" => w.actual_loops = Some(num(v)?),
                _ => {}
            }
        }
        return Ok(());
    }
    if let Some(v) = body.strip_prefix("Buffers:") {
        w.buffers = Some(buffers(v.trim())?);
        return Ok(());
    }
    for (k, v) in segments(body) {
        let (k, v) = composite_key(k, v)?;
        match k.as_str() {
            "Sort Method" => w.sort_method = Some(v.as_str().unwrap_or_default().to_string()),
            "Sort Space Used" => {
                w.sort_space_used_kb = v.as_f64();
                w.sort_space_type = Some(
                    if body.contains("Disk:") {
                        "Disk"
                    } else {
                        "Memory"
                    }
                    .into(),
                );
            }
            "Batches" => w.hashagg_batches = v.as_f64(),
            "Peak Memory Usage" => w.peak_memory_usage_kb = v.as_f64(),
            "Disk Usage" => w.disk_usage_kb = v.as_f64(),
            _ => {
                w.extra.insert(k, v);
            }
        }
    }
    Ok(())
}

/// `shared hit=529 read=3, local …, temp read=196 written=196`.
fn buffers(v: &str) -> Result<Buffers> {
    let mut b = Buffers::default();
    for group in v.split(',') {
        let mut words = group.split_whitespace();
        let Some(scope) = words.next() else { continue };
        for kv in words {
            let (k, n) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("cannot read `{kv}` in Buffers: expected name=number"))?;
            let n = num(n)?;
            match (scope, k) {
                ("shared", "hit") => b.shared_hit = n,
                ("shared", "read") => b.shared_read = n,
                ("shared", "dirtied") => b.shared_dirtied = n,
                ("shared", "written") => b.shared_written = n,
                ("local", "hit") => b.local_hit = n,
                ("local", "read") => b.local_read = n,
                ("local", "dirtied") => b.local_dirtied = n,
                ("local", "written") => b.local_written = n,
                ("temp", "read") => b.temp_read = n,
                ("temp", "written") => b.temp_written = n,
                _ => {}
            }
        }
    }
    Ok(b)
}

/// `bookings_audit: time=1.303 calls=50`, `for constraint fk on t: time=…`.
fn trigger(rest: &str) -> Result<Trigger> {
    let (name, figures) = rest.rsplit_once(": ").ok_or_else(|| {
        anyhow!("cannot read the trigger line: expected `Trigger name: time=… calls=…`")
    })?;
    let name = name.strip_prefix("for constraint ").unwrap_or(name);
    let (name, relation) = match name.split_once(" on ") {
        Some((n, r)) => (n, Some(r.to_string())),
        None => (name, None),
    };
    let mut t = Trigger {
        name: name.to_string(),
        relation,
        ..Trigger::default()
    };
    for (k, v) in pairs(figures)? {
        match k {
            "time" => t.time_ms = Some(num(v)?),
            "calls" => t.calls = Some(num(v)?),
            _ => {}
        }
    }
    Ok(t)
}

/// `a=1 b=2..3` → [(a, 1), (b, 2..3)].
fn pairs(s: &str) -> Result<Vec<(&str, &str)>> {
    s.split_whitespace()
        .map(|kv| {
            kv.split_once('=')
                .ok_or_else(|| anyhow!("cannot read `{kv}`: expected name=value (truncated line?)"))
        })
        .collect()
}

fn range(v: &str) -> Result<(f64, f64)> {
    let (a, b) = v
        .split_once("..")
        .ok_or_else(|| anyhow!("cannot read `{v}`: expected a range like 0.00..1.23"))?;
    Ok((num(a)?, num(b)?))
}

fn num(v: &str) -> Result<f64> {
    match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => bail!("cannot read `{}` as a number", shorten(v.trim())),
    }
}

fn ms(v: &str) -> Result<f64> {
    num(v.trim().trim_end_matches("ms").trim())
}

fn number_value(n: f64) -> Value {
    serde_json::Number::from_f64(n)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn text_value(v: &str) -> Value {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() && !v.is_empty() => number_value(n),
        _ => Value::String(v.to_string()),
    }
}

fn push_detail(extra: &mut std::collections::BTreeMap<String, Value>, line: &str) {
    let entry = extra
        .entry("Details".to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = entry {
        items.push(Value::String(line.to_string()));
    }
}

/// `Sort Method: external merge  Disk: 2624kB` → [(Sort Method, external merge), (Disk, 2624kB)].
fn segments(line: &str) -> Vec<(&str, &str)> {
    line.split("  ")
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| s.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// Split at `sep` outside parentheses, brackets and quotes.
pub(crate) fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                c if c == sep && depth <= 0 => {
                    out.push(s[start..i].trim());
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

/// Whitespace-separated words, keeping double-quoted identifiers whole.
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
            cur.push(c);
        } else if c.is_whitespace() && !quoted {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_string(),
    }
}

/// Leading whitespace in columns; a tab counts as one column, which keeps
/// uniformly tab-shifted pastes intact.
fn indent(s: &str) -> usize {
    s.chars().take_while(|c| c.is_whitespace()).count()
}

fn shorten(s: &str) -> String {
    crate::output::shorten(s, 60)
}
