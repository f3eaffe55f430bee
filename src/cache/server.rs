//! Server facts from `INFO` (no `CONFIG` needed, so managed services work):
//! memory and its limit and policy, evictions, expirations, hits and
//! misses, clients, version and mode — per node and summed over a cluster.

use std::collections::HashMap;

use serde::Serialize;

/// One node's `INFO`, the fields the report uses.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServerFacts {
    pub node: String,
    pub role: String,
    pub redis_version: String,
    pub redis_mode: String,
    pub used_memory: u64,
    pub used_memory_peak: u64,
    /// 0 when unset (no limit).
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// hits / (hits + misses); `None` before any lookup.
    pub hit_ratio: Option<f64>,
    pub connected_clients: u64,
    /// `DBSIZE` of the database scanned.
    pub dbsize: u64,
}

/// `INFO` text → field map.
pub fn parse_info(text: &str) -> HashMap<&str, &str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect()
}

impl ServerFacts {
    pub fn from_info(node: &str, text: &str, dbsize: u64) -> ServerFacts {
        let m = parse_info(text);
        let s = |k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
        let n = |k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let hits = n("keyspace_hits");
        let misses = n("keyspace_misses");
        ServerFacts {
            node: node.to_string(),
            role: s("role"),
            redis_version: s("redis_version"),
            redis_mode: s("redis_mode"),
            used_memory: n("used_memory"),
            used_memory_peak: n("used_memory_peak"),
            maxmemory: n("maxmemory"),
            maxmemory_policy: s("maxmemory_policy"),
            evicted_keys: n("evicted_keys"),
            expired_keys: n("expired_keys"),
            keyspace_hits: hits,
            keyspace_misses: misses,
            hit_ratio: ratio(hits, misses),
            connected_clients: n("connected_clients"),
            dbsize,
        }
    }
}

fn ratio(hits: u64, misses: u64) -> Option<f64> {
    let total = hits + misses;
    (total > 0).then(|| ((hits as f64 / total as f64) * 10_000.0).round() / 10_000.0)
}

/// Facts summed over the nodes (memory, counters); version, mode and
/// policy from the first node, `maxmemory` the sum when every node has one
/// and 0 if any node has none.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServerSummary {
    pub redis_version: String,
    pub redis_mode: String,
    pub used_memory: u64,
    pub used_memory_peak: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub hit_ratio: Option<f64>,
    pub connected_clients: u64,
    pub dbsize: u64,
    pub nodes: Vec<ServerFacts>,
}

impl ServerSummary {
    pub fn from_nodes(nodes: Vec<ServerFacts>) -> ServerSummary {
        let first = nodes.first().cloned().unwrap_or_default();
        let sum = |f: fn(&ServerFacts) -> u64| nodes.iter().map(f).sum::<u64>();
        let hits = sum(|n| n.keyspace_hits);
        let misses = sum(|n| n.keyspace_misses);
        let maxmemory = if nodes.iter().any(|n| n.maxmemory == 0) {
            0
        } else {
            sum(|n| n.maxmemory)
        };
        ServerSummary {
            redis_version: first.redis_version,
            redis_mode: first.redis_mode,
            used_memory: sum(|n| n.used_memory),
            used_memory_peak: sum(|n| n.used_memory_peak),
            maxmemory,
            maxmemory_policy: first.maxmemory_policy,
            evicted_keys: sum(|n| n.evicted_keys),
            expired_keys: sum(|n| n.expired_keys),
            keyspace_hits: hits,
            keyspace_misses: misses,
            hit_ratio: ratio(hits, misses),
            connected_clients: sum(|n| n.connected_clients),
            dbsize: sum(|n| n.dbsize),
            nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n# Clients\r\nconnected_clients:3\r\n\r\n# Memory\r\nused_memory:1048576\r\nused_memory_peak:2097152\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n# Stats\r\nexpired_keys:12\r\nevicted_keys:0\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\n# Replication\r\nrole:master\r\n";

    #[test]
    fn parses_info() {
        let f = ServerFacts::from_info("h:1", INFO, 5);
        assert_eq!(f.redis_version, "7.0.15");
        assert_eq!(f.used_memory, 1_048_576);
        assert_eq!(f.maxmemory_policy, "noeviction");
        assert_eq!(f.hit_ratio, Some(0.9));
        assert_eq!(f.connected_clients, 3);
        assert_eq!(f.role, "master");
    }

    #[test]
    fn sums_nodes() {
        let mut a = ServerFacts::from_info("a", INFO, 5);
        let b = ServerFacts::from_info("b", INFO, 7);
        a.maxmemory = 100;
        let s = ServerSummary::from_nodes(vec![a, b]);
        assert_eq!(s.dbsize, 12);
        assert_eq!(
            s.maxmemory, 0,
            "one node without a limit means no cluster-wide limit"
        );
        assert_eq!(s.hit_ratio, Some(0.9));
    }
}
