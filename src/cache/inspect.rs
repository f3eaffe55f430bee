//! `cache inspect`: walk the keyspace of every node with `SCAN` (never
//! `KEYS`), measure each key with pipelined `TYPE`, `PTTL`, `MEMORY USAGE`
//! and an element count for collections, and fold the results into a
//! bounded-memory [`Aggregate`]. Nodes are scanned in parallel; within a
//! node the next `SCAN` overlaps with measuring the previous batch.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use redis::Value;
use redis::aio::MultiplexedConnection;
use serde::Serialize;

use super::blocking::NodePool;
use super::checkpoint::{Checkpoint, ScanTarget};
use super::cluster::Topology;
use super::findings::{self, Finding, Thresholds};
use super::limiter::Limiter;
use super::resp::Packed;
use super::server::{ServerFacts, ServerSummary};
use super::stats::{Aggregate, BigKey, KeyInfo, OverallReport, PatternReport, type_index};

/// What to scan and how hard.
#[derive(Debug, Clone)]
pub struct Options {
    pub match_glob: Option<String>,
    /// `SCAN … COUNT`.
    pub scan_count: usize,
    /// Stop after about this many keys (all nodes together) and extrapolate.
    pub sample: Option<u64>,
    pub max_ops_per_sec: Option<u64>,
    pub top: usize,
    pub max_patterns: usize,
    pub thresholds: Thresholds,
    /// `MEMORY USAGE … SAMPLES n` (nested values sampled; 0 = all).
    pub memory_samples: u32,
    /// Resume positions per node name; `None` = from the start everywhere.
    pub resume: Option<BTreeMap<String, u64>>,
    /// The saved partial results of the interrupted scan that `resume`
    /// continues: its totals are folded in first.
    pub continues: Option<Checkpoint>,
    pub db: i64,
}

/// How far one node's scan got.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub node: String,
    /// The master whose replica was scanned, if any.
    pub replica_of: Option<String>,
    pub keys: u64,
    pub memory_bytes: u64,
    pub dbsize: u64,
    /// `SCAN` cursor to resume from; 0 when this node was scanned to the end.
    pub cursor: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanInfo {
    /// Every node scanned to the end (not sampled, not interrupted).
    pub complete: bool,
    pub interrupted: bool,
    #[serde(rename = "match")]
    pub match_glob: Option<String>,
    /// Keys measured, including those of the interrupted runs this one
    /// continues (see `keys_scanned_earlier`).
    pub keys_scanned: u64,
    /// Keys measured by the interrupted runs whose saved results this
    /// report includes (0 when it continues none).
    pub keys_scanned_earlier: u64,
    /// Keys that vanished between SCAN and TYPE (expired or deleted).
    pub keys_vanished: u64,
    /// Keys whose MEMORY USAGE the server did not answer.
    pub memory_unknown: u64,
    /// Multiplier applied to counts and memory (1 for a full scan).
    pub extrapolation_factor: f64,
    /// How the sample was extrapolated, in words.
    pub extrapolation: Option<String>,
    /// `--cursor` value to resume an interrupted or sampled scan.
    pub resume_cursor: Option<String>,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BiggestKeys {
    pub by_memory: Vec<BigKey>,
    pub by_elements: Vec<BigKey>,
}

/// The whole `cache inspect --format json` document.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub target: String,
    /// `standalone` or `cluster`.
    pub mode: &'static str,
    pub db: i64,
    pub scan: ScanInfo,
    pub overall: OverallReport,
    pub patterns: Vec<PatternReport>,
    pub biggest_keys: BiggestKeys,
    pub nodes: Vec<NodeReport>,
    pub server: ServerSummary,
    pub findings: Vec<Finding>,
}

/// A finished (or interrupted) inspection: the report, and when the scan
/// was interrupted, what to save so `--cursor` can continue it.
pub struct Inspected {
    pub report: InspectReport,
    pub checkpoint: Option<Checkpoint>,
}

/// What identifies this scan for checkpoints.
pub fn scan_target(topo: &Topology, opts: &Options) -> ScanTarget {
    ScanTarget {
        target: topo.display.clone(),
        db: opts.db,
        match_glob: opts.match_glob.clone(),
        nodes: topo.node_names(),
    }
}

/// Progress callback: called with the number of keys just measured.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Per-node `INFO` + `DBSIZE`.
pub async fn server_facts(topo: &Topology) -> Result<Vec<ServerFacts>> {
    let mut out = Vec::new();
    for n in &topo.nodes {
        let mut c = n.conn.clone();
        let (info, dbsize): (String, u64) = redis::pipe()
            .cmd("INFO")
            .cmd("DBSIZE")
            .query_async(&mut c)
            .await
            .with_context(|| format!("reading INFO and DBSIZE from {}", n.name))?;
        out.push(ServerFacts::from_info(&n.name, &info, dbsize));
    }
    Ok(out)
}

/// Parse `--cursor`: `N` on a standalone server, `host:port=N,…` on a cluster.
pub fn parse_cursor(text: &str, topo: &Topology) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    if !topo.cluster {
        let n: u64 = text.trim().parse().map_err(|_| {
            anyhow!("--cursor {text:?}: expected the number printed by an interrupted scan")
        })?;
        out.insert(topo.nodes[0].name.clone(), n);
        return Ok(out);
    }
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (node, n) = part
            .rsplit_once('=')
            .ok_or_else(|| anyhow!("--cursor part {part:?}: expected host:port=N as printed by an interrupted cluster scan"))?;
        let n: u64 = n
            .parse()
            .map_err(|_| anyhow!("--cursor part {part:?}: {n:?} is not a cursor number"))?;
        if !topo.nodes.iter().any(|x| x.name == node) {
            bail!(
                "--cursor names node {node}, which is not a scanned node of this cluster (nodes: {})",
                topo.node_names().join(", ")
            );
        }
        out.insert(node.to_string(), n);
    }
    Ok(out)
}

/// Format per-node cursors for `--cursor` (nodes already done left out).
pub fn format_cursor(cluster: bool, nodes: &[NodeReport]) -> Option<String> {
    let open: Vec<&NodeReport> = nodes.iter().filter(|n| n.cursor != 0).collect();
    if open.is_empty() {
        None
    } else if !cluster {
        Some(open[0].cursor.to_string())
    } else {
        Some(
            open.iter()
                .map(|n| format!("{}={}", n.node, n.cursor))
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// Fraction of a node's hash table a SCAN cursor has covered: Redis
/// increments the cursor in reversed-bit order, so the reversed cursor is
/// a counter in the top bits of a 64-bit word.
pub fn covered_fraction(cursor: u64) -> f64 {
    cursor.reverse_bits() as f64 / 2f64.powi(64)
}

struct NodeOutcome {
    agg: Aggregate,
    start_cursor: u64,
    cursor: u64,
    seen: u64,
    vanished: u64,
}

/// Scan every node and build the report; `facts` are the nodes' `INFO`
/// and `DBSIZE` ([`server_facts`]), read before the scan.
pub async fn inspect(
    topo: &Topology,
    facts: Vec<ServerFacts>,
    opts: &Options,
    cancel: Arc<AtomicBool>,
    progress: Option<Progress>,
) -> Result<Inspected> {
    let started = Instant::now();
    let limiter = Limiter::new(opts.max_ops_per_sec);
    let node_count = topo.nodes.len();
    let budget = opts.sample.map(|n| n.div_ceil(node_count as u64).max(1));
    let mut tasks = Vec::new();
    for (idx, node) in topo.nodes.iter().enumerate() {
        let start = match &opts.resume {
            None => Some(0),
            Some(m) => m.get(&node.name).copied(),
        };
        let Some(start) = start else { continue };
        let conn = node.conn.clone();
        let pool = Arc::new(NodePool::new(
            node.name.clone(),
            node.info.clone(),
            topo.timeout,
            node.replica_of.is_some(),
        ));
        let opts = opts.clone();
        let limiter = limiter.clone();
        let cancel = cancel.clone();
        let progress = progress.clone();
        let name = node.name.clone();
        tasks.push((
            idx,
            tokio::spawn(async move {
                scan_node(
                    conn, pool, idx, node_count, start, budget, &opts, &limiter, &cancel, progress,
                )
                .await
                .with_context(|| format!("scanning {name}"))
            }),
        ));
    }
    let mut agg = Aggregate::new(
        opts.max_patterns,
        opts.top,
        node_count,
        opts.thresholds.big_key_bytes,
    );
    let (earlier, earlier_vanished, from_start) = match &opts.continues {
        Some(cp) => {
            agg.merge(&cp.agg);
            (cp.keys_scanned, cp.keys_vanished, cp.from_start)
        }
        None => (0, 0, opts.resume.is_none()),
    };
    let mut outcomes: Vec<Option<NodeOutcome>> = (0..node_count).map(|_| None).collect();
    for (idx, t) in tasks {
        let o = t.await.map_err(|e| anyhow!("scan task failed: {e}"))??;
        agg.merge(&o.agg);
        outcomes[idx] = Some(o);
    }
    let interrupted = cancel.load(Ordering::SeqCst);
    let names = topo.node_names();
    let mut nodes = Vec::new();
    let (mut seen, mut vanished, mut est_total) = (0u64, 0u64, 0f64);
    for (idx, n) in topo.nodes.iter().enumerate() {
        let totals = agg.nodes.get(idx).copied().unwrap_or_default();
        let dbsize = facts.get(idx).map(|f| f.dbsize).unwrap_or(0);
        let cursor = outcomes[idx].as_ref().map(|o| o.cursor).unwrap_or(0);
        if let Some(o) = &outcomes[idx] {
            seen += o.seen;
            vanished += o.vanished;
            // Estimated matching keys on this node over the part of the
            // table this run covered, extrapolated to the whole table.
            let from = covered_fraction(o.start_cursor);
            let to = if o.cursor == 0 {
                1.0
            } else {
                covered_fraction(o.cursor)
            };
            let covered = (to - from).max(1e-9);
            est_total += if opts.match_glob.is_none() && o.start_cursor == 0 && o.cursor != 0 {
                dbsize as f64
            } else {
                o.seen as f64 / covered
            };
        }
        nodes.push(NodeReport {
            node: n.name.clone(),
            replica_of: n.replica_of.clone(),
            keys: totals.keys,
            memory_bytes: totals.memory,
            dbsize,
            cursor,
        });
    }
    let sampled = opts.sample.is_some() && nodes.iter().any(|n| n.cursor != 0) && !interrupted;
    let factor = if sampled && seen > 0 {
        (est_total / seen as f64).max(1.0)
    } else {
        1.0
    };
    let extrapolation = sampled.then(|| {
        if opts.match_glob.is_none() {
            format!(
                "sampled {seen} keys of {} (DBSIZE); counts and memory multiplied by {factor:.2}; sizes, percentiles and TTL shares are those of the sample",
                nodes.iter().map(|n| n.dbsize).sum::<u64>()
            )
        } else {
            format!(
                "sampled {seen} matching keys; the SCAN cursors covered part of the hash table, so counts and memory are multiplied by {factor:.2} (estimate)"
            )
        }
    });
    let server = ServerSummary::from_nodes(facts);
    let Summary {
        patterns,
        overall,
        biggest_keys,
        findings,
    } = summarize(&agg, factor, &server, &names, &opts.thresholds);
    let complete = !interrupted && !sampled && from_start && nodes.iter().all(|n| n.cursor == 0);
    let resume_cursor = format_cursor(topo.cluster, &nodes);
    let checkpoint = match (&resume_cursor, interrupted && opts.sample.is_none()) {
        (Some(c), true) => Some(Checkpoint::new(
            scan_target(topo, opts),
            c.clone(),
            from_start,
            earlier + seen,
            earlier_vanished + vanished,
            agg.clone(),
        )),
        _ => None,
    };
    let report = InspectReport {
        target: topo.display.clone(),
        mode: if topo.cluster {
            "cluster"
        } else {
            "standalone"
        },
        db: opts.db,
        scan: ScanInfo {
            complete,
            interrupted,
            match_glob: opts.match_glob.clone(),
            keys_scanned: earlier + seen,
            keys_scanned_earlier: earlier,
            keys_vanished: earlier_vanished + vanished,
            memory_unknown: agg.memory_unknown,
            extrapolation_factor: (factor * 10_000.0).round() / 10_000.0,
            extrapolation,
            resume_cursor,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
        overall,
        patterns,
        biggest_keys,
        nodes,
        server,
        findings,
    };
    Ok(Inspected { report, checkpoint })
}

/// What a report says about an aggregation once the scan is over.
pub(crate) struct Summary {
    pub patterns: Vec<PatternReport>,
    pub overall: OverallReport,
    pub biggest_keys: BiggestKeys,
    pub findings: Vec<Finding>,
}

/// Patterns and totals (counts and memory multiplied by `factor` when the
/// scan sampled), the biggest keys, and the findings on them.
pub(crate) fn summarize(
    agg: &Aggregate,
    factor: f64,
    server: &ServerSummary,
    names: &[String],
    thresholds: &Thresholds,
) -> Summary {
    let patterns = agg.pattern_reports(factor);
    let overall = agg.overall_report(factor);
    let by_memory = agg.top_memory.sorted(names);
    let by_elements = agg.top_elements.sorted(names);
    let biggest = by_memory
        .first()
        .map(|k| (k.key.as_str(), k.memory_bytes.unwrap_or(0)));
    let findings = findings::evaluate(
        &findings::Input {
            patterns: &patterns,
            overall: &overall,
            server,
            big_keys: agg.big_keys,
            biggest,
        },
        thresholds,
    );
    Summary {
        patterns,
        overall,
        biggest_keys: BiggestKeys {
            by_memory,
            by_elements,
        },
        findings,
    }
}

/// Batches measured concurrently per node while the next SCAN runs.
const IN_FLIGHT: usize = 4;

#[allow(clippy::too_many_arguments)]
async fn scan_node(
    conn: MultiplexedConnection,
    pool: Arc<NodePool>,
    node: usize,
    node_count: usize,
    start: u64,
    budget: Option<u64>,
    opts: &Options,
    limiter: &Limiter,
    cancel: &AtomicBool,
    progress: Option<Progress>,
) -> Result<NodeOutcome> {
    let mut agg = Aggregate::new(
        opts.max_patterns,
        opts.top,
        node_count,
        opts.thresholds.big_key_bytes,
    );
    let mut cursor = start;
    let mut seen = 0u64;
    let mut vanished = 0u64;
    // Spawned so each batch's pipelines progress while the next SCAN waits.
    let mut inflight: VecDeque<tokio::task::JoinHandle<Result<Measured>>> = VecDeque::new();
    let mut scan_conn = conn;
    loop {
        if cancel.load(Ordering::SeqCst) || budget.is_some_and(|b| seen >= b) {
            break;
        }
        limiter.acquire(1).await;
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor);
        if let Some(m) = &opts.match_glob {
            cmd.arg("MATCH").arg(m);
        }
        cmd.arg("COUNT").arg(opts.scan_count);
        let (next, keys): (u64, Vec<Vec<u8>>) =
            cmd.query_async(&mut scan_conn).await.context("SCAN")?;
        if !keys.is_empty() {
            limiter.acquire(keys.len() as u64 * 3).await;
            seen += keys.len() as u64;
            inflight.push_back(tokio::spawn(measure(
                pool.clone(),
                keys,
                node,
                opts.memory_samples,
                limiter.clone(),
            )));
        }
        cursor = next;
        while inflight.len() >= IN_FLIGHT {
            if let Some(h) = inflight.pop_front() {
                vanished += absorb(&mut agg, joined(h).await?, &progress);
            }
        }
        if cursor == 0 {
            break;
        }
    }
    while let Some(h) = inflight.pop_front() {
        vanished += absorb(&mut agg, joined(h).await?, &progress);
    }
    Ok(NodeOutcome {
        agg,
        start_cursor: start,
        cursor,
        seen,
        vanished,
    })
}

/// A measured batch: the keys still present, and how many vanished.
type Measured = (Vec<KeyInfo>, u64);

async fn joined<T>(h: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    h.await.map_err(|e| anyhow!("measuring task failed: {e}"))?
}

fn absorb(agg: &mut Aggregate, batch: (Vec<KeyInfo>, u64), progress: &Option<Progress>) -> u64 {
    let n = batch.0.len() as u64 + batch.1;
    for k in &batch.0 {
        agg.add(k);
    }
    if let Some(p) = progress {
        p(n);
    }
    batch.1
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<&str> {
    match v {
        Value::SimpleString(s) => Some(s),
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::Okay => Some("OK"),
        _ => None,
    }
}

fn element_cmd(type_name: &str) -> Option<&'static str> {
    match type_name {
        "hash" => Some("HLEN"),
        "list" => Some("LLEN"),
        "set" => Some("SCARD"),
        "zset" => Some("ZCARD"),
        "stream" => Some("XLEN"),
        _ => None,
    }
}

/// Send a packed pipeline on a blocking connection of the node's pool.
async fn send(pool: &Arc<NodePool>, p: Packed, what: &'static str) -> Result<Vec<Value>> {
    let pool = pool.clone();
    let n = p.commands();
    let replies = tokio::task::spawn_blocking(move || pool.send(&p))
        .await
        .map_err(|e| anyhow!("measuring task failed: {e}"))?
        .with_context(|| format!("pipelined {what}"))?;
    if replies.len() != n {
        bail!(
            "unexpected reply count {} to {n} pipelined {what}",
            replies.len()
        );
    }
    Ok(replies)
}

/// Measure one batch: one pipeline of TYPE/PTTL/MEMORY USAGE, then one of
/// element counts for the collections, each packed and sent on a blocking
/// connection. Returns the keys still present and the number that vanished
/// meanwhile.
async fn measure(
    pool: Arc<NodePool>,
    keys: Vec<Vec<u8>>,
    node: usize,
    memory_samples: u32,
    limiter: Limiter,
) -> Result<(Vec<KeyInfo>, u64)> {
    let mut p = Packed::with_capacity(keys.iter().map(|k| k.len() + 80).sum());
    for k in &keys {
        p.command(&[b"TYPE", k]);
        p.command(&[b"PTTL", k]);
        p.start(5)
            .arg(b"MEMORY")
            .arg(b"USAGE")
            .arg(k)
            .arg(b"SAMPLES")
            .arg_uint(u64::from(memory_samples));
    }
    let replies = send(&pool, p, "TYPE/PTTL/MEMORY USAGE").await?;
    let mut out = Vec::with_capacity(keys.len());
    let mut vanished = 0;
    let mut counts = Packed::default();
    let mut count_for = Vec::new();
    for (i, k) in keys.into_iter().enumerate() {
        let t = text_of(&replies[i * 3]).unwrap_or("none");
        if t == "none" {
            vanished += 1;
            continue;
        }
        let ttl_ms = match int_of(&replies[i * 3 + 1]) {
            Some(-2) => {
                vanished += 1;
                continue;
            }
            Some(ms) if ms >= 0 => Some(ms),
            _ => None,
        };
        let memory = int_of(&replies[i * 3 + 2]).and_then(|m| u64::try_from(m).ok());
        if let Some(c) = element_cmd(t) {
            counts.command(&[c.as_bytes(), &k]);
            count_for.push(out.len());
        }
        out.push(KeyInfo {
            // Moves the bytes when they are UTF-8 (nearly always).
            key: String::from_utf8(k)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            type_idx: type_index(t),
            ttl_ms,
            memory,
            elements: None,
            node,
        });
    }
    if !count_for.is_empty() {
        limiter.acquire(count_for.len() as u64).await;
        let counted = send(&pool, counts, "element counts").await?;
        for (slot, r) in count_for.into_iter().zip(&counted) {
            if let Some(e) = int_of(r) {
                out[slot].elements = u64::try_from(e).ok();
            }
        }
    }
    Ok((out, vanished))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_fraction() {
        assert_eq!(covered_fraction(0), 0.0);
        // Table of 8 buckets: cursors go 0,4,2,6,1,5,3,7 → fractions 0, 1/8, 2/8…
        assert_eq!(covered_fraction(4), 0.125);
        assert_eq!(covered_fraction(6), 0.375);
        let order = [0u64, 4, 2, 6, 1, 5, 3, 7];
        let fr: Vec<f64> = order.iter().map(|c| covered_fraction(*c)).collect();
        assert!(fr.windows(2).all(|w| w[0] < w[1]), "{fr:?}");
    }

    #[test]
    fn cursor_text() {
        let n = |node: &str, cursor| NodeReport {
            node: node.into(),
            replica_of: None,
            keys: 0,
            memory_bytes: 0,
            dbsize: 0,
            cursor,
        };
        assert_eq!(format_cursor(false, &[n("h:1", 42)]).as_deref(), Some("42"));
        assert_eq!(format_cursor(false, &[n("h:1", 0)]), None);
        assert_eq!(
            format_cursor(true, &[n("a:1", 5), n("b:2", 0), n("c:3", 7)]).as_deref(),
            Some("a:1=5,c:3=7")
        );
    }
}
