//! `cache invalidate PATTERN`: `SCAN MATCH` + `UNLINK` in batches on every
//! node. PATTERN is a Redis glob (`customer:*`) or a pattern as `cache
//! inspect` prints it (`customer:{id}`): then the glob is derived from it
//! and each key must also classify to exactly that pattern, so
//! `customer:{id}` never removes `customer:42:orders`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use serde::Serialize;

use super::cluster::Topology;
use super::limiter::Limiter;
use super::pattern::{classify, has_placeholder, pattern_to_glob};

#[derive(Debug, Clone)]
pub struct Options {
    pub pattern: String,
    /// Delete (otherwise only count).
    pub yes: bool,
    pub scan_count: usize,
    pub max_ops_per_sec: Option<u64>,
    /// Example keys to keep for the report.
    pub samples: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeCount {
    pub node: String,
    pub matched: u64,
    pub unlinked: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InvalidateReport {
    pub pattern: String,
    /// The glob sent with SCAN MATCH.
    pub glob: String,
    /// Whether keys were also checked against the pattern's placeholders.
    pub classified: bool,
    pub deleted: bool,
    pub interrupted: bool,
    pub matched: u64,
    /// Keys UNLINK reported removed (0 without --yes).
    pub unlinked: u64,
    pub nodes: Vec<NodeCount>,
    pub examples: Vec<String>,
}

/// Whether a scanned key belongs to the pattern.
pub fn selects(pattern: &str, classified: bool, key: &str) -> bool {
    !classified || classify(key) == pattern
}

pub async fn invalidate(
    topo: &Topology,
    opts: &Options,
    cancel: Arc<AtomicBool>,
) -> Result<InvalidateReport> {
    let classified = has_placeholder(&opts.pattern);
    let glob = if classified {
        pattern_to_glob(&opts.pattern)
    } else {
        opts.pattern.clone()
    };
    let limiter = Limiter::new(opts.max_ops_per_sec);
    let mut tasks = Vec::new();
    for node in &topo.nodes {
        let mut conn = node.conn.clone();
        let name = node.name.clone();
        let glob = glob.clone();
        let opts = opts.clone();
        let limiter = limiter.clone();
        let cancel = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let mut cursor = 0u64;
            let mut count = NodeCount {
                node: name.clone(),
                matched: 0,
                unlinked: 0,
            };
            let mut examples = Vec::new();
            loop {
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                limiter.acquire(1).await;
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&glob)
                    .arg("COUNT")
                    .arg(opts.scan_count)
                    .query_async(&mut conn)
                    .await
                    .with_context(|| format!("SCAN on {name}"))?;
                let keys: Vec<Vec<u8>> = keys
                    .into_iter()
                    .filter(|k| selects(&opts.pattern, classified, &String::from_utf8_lossy(k)))
                    .collect();
                count.matched += keys.len() as u64;
                for k in keys
                    .iter()
                    .take(opts.samples.saturating_sub(examples.len()))
                {
                    examples.push(String::from_utf8_lossy(k).into_owned());
                }
                if opts.yes && !keys.is_empty() {
                    limiter.acquire(keys.len() as u64).await;
                    // One UNLINK per key: keys of a batch may live in
                    // different hash slots, which one multi-key UNLINK
                    // refuses on a cluster.
                    let mut p = redis::pipe();
                    for k in &keys {
                        p.cmd("UNLINK").arg(k);
                    }
                    let removed: Vec<u64> = p
                        .query_async(&mut conn)
                        .await
                        .with_context(|| format!("UNLINK on {name}"))?;
                    count.unlinked += removed.iter().sum::<u64>();
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
            Ok::<_, anyhow::Error>((count, examples))
        }));
    }
    let mut nodes = Vec::new();
    let mut examples = Vec::new();
    for t in tasks {
        let (c, ex) = t
            .await
            .map_err(|e| anyhow::anyhow!("invalidate task failed: {e}"))??;
        nodes.push(c);
        for e in ex {
            if examples.len() < opts.samples {
                examples.push(e);
            }
        }
    }
    Ok(InvalidateReport {
        pattern: opts.pattern.clone(),
        glob,
        classified,
        deleted: opts.yes,
        interrupted: cancel.load(Ordering::SeqCst),
        matched: nodes.iter().map(|n| n.matched).sum(),
        unlinked: nodes.iter().map(|n| n.unlinked).sum(),
        nodes,
        examples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_patterns_select_exactly() {
        assert!(selects("customer:{id}", true, "customer:42"));
        assert!(!selects("customer:{id}", true, "customer:42:orders"));
        assert!(!selects("customer:{id}", true, "customer:abc"));
        assert!(selects("customer:*", false, "customer:42:orders"));
    }
}
