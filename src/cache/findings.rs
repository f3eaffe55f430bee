//! What `cache inspect` warns about. Each rule has a stable kebab-case id,
//! a message with the figures and a help line with the fix; thresholds are
//! flags (see docs/cache.md).

use serde::Serialize;

use super::pattern::has_placeholder;
use super::server::ServerSummary;
use super::stats::{OverallReport, PatternReport};

/// Rule thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// `low-hit-ratio` below this (0..1)...
    pub min_hit_ratio: f64,
    /// ...once there were at least this many lookups.
    pub min_lookups: u64,
    /// `big-keys` at or above this many bytes (MEMORY USAGE).
    pub big_key_bytes: u64,
    /// `pattern-dominates-memory` at or above this share of memory.
    pub dominant_share: f64,
    /// `pattern-without-ttl` needs at least this many keys in the pattern.
    pub min_pattern_keys: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_hit_ratio: 0.8,
            min_lookups: 1000,
            big_key_bytes: 1 << 20,
            dominant_share: 0.5,
            min_pattern_keys: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Info,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Stable rule id, e.g. `pattern-without-ttl`.
    pub rule: &'static str,
    pub severity: Severity,
    /// The pattern concerned, when the finding is about one.
    pub pattern: Option<String>,
    pub message: String,
    pub help: String,
}

/// Everything the rules look at.
pub struct Input<'a> {
    pub patterns: &'a [PatternReport],
    pub overall: &'a OverallReport,
    pub server: &'a ServerSummary,
    /// Keys at or above the big-key threshold (as measured, not extrapolated).
    pub big_keys: u64,
    /// The biggest key measured: name and bytes.
    pub biggest: Option<(&'a str, u64)>,
}

fn keys_word(n: u64) -> String {
    if n == 1 {
        "1 key".into()
    } else {
        format!("{n} keys")
    }
}

pub fn evaluate(i: &Input<'_>, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in i.patterns {
        let cache_like = has_placeholder(&p.pattern)
            && p.types.keys().all(|k| k == "string" || k == "hash")
            && p.keys >= t.min_pattern_keys;
        if cache_like && p.ttl.none * 10 >= p.keys * 9 {
            out.push(Finding {
                rule: "pattern-without-ttl",
                severity: Severity::Warning,
                pattern: Some(p.pattern.clone()),
                message: format!(
                    "{} of {} `{}` keys have no TTL; they look like per-entity cache entries and stay until deleted or evicted",
                    p.ttl.none, p.keys, p.pattern
                ),
                help: "write them with a TTL (SET … EX / PX, or EXPIRE after HSET); if they are not a cache, keep them out of the cache instance".into(),
            });
        }
    }
    let policy = &i.server.maxmemory_policy;
    if policy.starts_with("volatile-") && i.overall.ttl.none > 0 {
        out.push(Finding {
            rule: "volatile-policy-keys-without-ttl",
            severity: Severity::Warning,
            pattern: None,
            message: format!(
                "maxmemory-policy is {policy} but {} keys have no TTL: that policy never evicts them, so once memory is full of them writes fail with OOM",
                i.overall.ttl.none
            ),
            help: "give those keys a TTL, or use an allkeys-* policy (allkeys-lru / allkeys-lfu) for a pure cache".into(),
        });
    }
    if i.server.maxmemory == 0 {
        out.push(Finding {
            rule: "maxmemory-unset",
            severity: Severity::Warning,
            pattern: None,
            message: "maxmemory is not set on every node: Redis grows until the machine runs out of memory and no eviction policy ever applies".into(),
            help: "set maxmemory (about 75% of the memory you can give Redis) and maxmemory-policy allkeys-lru in redis.conf or the service's parameter group".into(),
        });
    }
    let lookups = i.server.keyspace_hits + i.server.keyspace_misses;
    if let Some(r) = i.server.hit_ratio
        && lookups >= t.min_lookups
        && r < t.min_hit_ratio
    {
        out.push(Finding {
                rule: "low-hit-ratio",
                severity: Severity::Warning,
                pattern: None,
                message: format!(
                    "hit ratio is {:.1}% over {lookups} lookups (threshold {:.0}%): most reads fall through to PostgreSQL",
                    r * 100.0,
                    t.min_hit_ratio * 100.0
                ),
                help: "check TTLs are not shorter than the re-read interval, warm the cache after deploys (pgadvisor cache warm), and watch evicted_keys for a too-small maxmemory".into(),
            });
    }
    if i.big_keys > 0 {
        let (name, bytes) = i.biggest.unwrap_or(("?", 0));
        out.push(Finding {
            rule: "big-keys",
            severity: Severity::Warning,
            pattern: None,
            message: format!(
                "{} at or above {} (the biggest, `{name}`, {}); big keys block Redis while they are read, written or deleted",
                keys_word(i.big_keys),
                crate::output::bytes(t.big_key_bytes),
                crate::output::bytes(bytes)
            ),
            help: "split them (per-field keys, paged lists), keep cached values small, and delete big keys with UNLINK".into(),
        });
    }
    if let Some(top) = i.patterns.first()
        && i.patterns.len() >= 2
        && top.share_memory >= t.dominant_share
    {
        out.push(Finding {
                rule: "pattern-dominates-memory",
                severity: Severity::Info,
                pattern: Some(top.pattern.clone()),
                message: format!(
                    "`{}` holds {:.1}% of the memory scanned ({})",
                    top.pattern,
                    top.share_memory * 100.0,
                    keys_word(top.keys)
                ),
                help: "make sure this is the data worth caching: shorten its TTL, cache fewer columns, or compress the values".into(),
            });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::stats::{Aggregate, KeyInfo, type_index};

    fn input_from(keys: &[(&str, Option<i64>, u64)], server: ServerSummary) -> Vec<Finding> {
        let mut agg = Aggregate::new(100, 5, 1, 1 << 20);
        for (k, ttl, mem) in keys {
            agg.add(&KeyInfo {
                key: k.to_string(),
                type_idx: type_index("string"),
                ttl_ms: *ttl,
                memory: Some(*mem),
                elements: None,
                node: 0,
            });
        }
        let patterns = agg.pattern_reports(1.0);
        let overall = agg.overall_report(1.0);
        let input = Input {
            patterns: &patterns,
            overall: &overall,
            server: &server,
            big_keys: agg.big_keys,
            biggest: None,
        };
        evaluate(&input, &Thresholds::default())
    }

    fn healthy_server() -> ServerSummary {
        ServerSummary {
            maxmemory: 1 << 30,
            maxmemory_policy: "allkeys-lru".into(),
            keyspace_hits: 9000,
            keyspace_misses: 1000,
            hit_ratio: Some(0.9),
            ..Default::default()
        }
    }

    fn rules(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn healthy_cache_ok() {
        let keys: Vec<(String, Option<i64>, u64)> = (0..20)
            .map(|i| (format!("customer:{i}"), Some(60_000), 100))
            .collect();
        let keys: Vec<(&str, Option<i64>, u64)> =
            keys.iter().map(|(k, t, m)| (k.as_str(), *t, *m)).collect();
        assert!(input_from(&keys, healthy_server()).is_empty());
    }

    #[test]
    fn pattern_without_ttl_err() {
        let keys: Vec<String> = (0..20).map(|i| format!("customer:{i}")).collect();
        let keys: Vec<(&str, Option<i64>, u64)> =
            keys.iter().map(|k| (k.as_str(), None, 100)).collect();
        let f = input_from(&keys, healthy_server());
        assert_eq!(rules(&f), vec!["pattern-without-ttl"]);
        assert_eq!(f[0].pattern.as_deref(), Some("customer:{id}"));
    }

    #[test]
    fn server_rules_err() {
        let server = ServerSummary {
            maxmemory: 0,
            maxmemory_policy: "volatile-lru".into(),
            keyspace_hits: 100,
            keyspace_misses: 900,
            hit_ratio: Some(0.1),
            ..Default::default()
        };
        let f = input_from(
            &[("config", None, 10), ("blob", Some(1000), 2 << 20)],
            server,
        );
        assert_eq!(
            rules(&f),
            vec![
                "volatile-policy-keys-without-ttl",
                "maxmemory-unset",
                "low-hit-ratio",
                "big-keys",
                "pattern-dominates-memory"
            ]
        );
    }
}
