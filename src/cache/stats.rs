//! Streaming aggregation of scanned keys: per pattern and overall counts,
//! memory, type mix, TTL buckets and size percentiles, plus the N biggest
//! keys. Memory stays bounded whatever the keyspace size: each pattern holds
//! a fixed-size sketch, the top-N lists are heaps of N entries, and the
//! number of distinct patterns is capped (the rest is counted under
//! [`OTHER_PATTERN`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

/// Where keys go once `max_patterns` distinct patterns have been seen.
pub const OTHER_PATTERN: &str = "{other}";

/// Redis value types, in the order reports list them.
pub const TYPE_NAMES: [&str; 7] = ["string", "hash", "list", "set", "zset", "stream", "other"];

pub fn type_index(name: &str) -> usize {
    TYPE_NAMES
        .iter()
        .position(|t| *t == name)
        .unwrap_or(TYPE_NAMES.len() - 1)
}

/// One scanned key, as the scanner measured it.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub key: String,
    /// Index into [`TYPE_NAMES`].
    pub type_idx: usize,
    /// Remaining time to live in milliseconds; `None` when the key has none.
    pub ttl_ms: Option<i64>,
    /// `MEMORY USAGE`, `None` when the server would not say.
    pub memory: Option<u64>,
    /// Element count for collections (HLEN, LLEN, SCARD, ZCARD, XLEN).
    pub elements: Option<u64>,
    /// Index of the node it lives on (into the report's node list).
    pub node: usize,
}

/// TTL distribution buckets.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TtlBuckets {
    /// Keys without an expiry.
    pub none: u64,
    /// Expiring in under a minute.
    pub lt_1m: u64,
    /// In a minute to an hour.
    pub lt_1h: u64,
    /// In an hour to a day.
    pub lt_1d: u64,
    /// In a day or more.
    pub longer: u64,
}

impl TtlBuckets {
    pub fn add(&mut self, ttl_ms: Option<i64>) {
        match ttl_ms {
            None => self.none += 1,
            Some(ms) if ms < 60_000 => self.lt_1m += 1,
            Some(ms) if ms < 3_600_000 => self.lt_1h += 1,
            Some(ms) if ms < 86_400_000 => self.lt_1d += 1,
            Some(_) => self.longer += 1,
        }
    }

    fn merge(&mut self, o: &TtlBuckets) {
        self.none += o.none;
        self.lt_1m += o.lt_1m;
        self.lt_1h += o.lt_1h;
        self.lt_1d += o.lt_1d;
        self.longer += o.longer;
    }

    pub fn total(&self) -> u64 {
        self.none + self.lt_1m + self.lt_1h + self.lt_1d + self.longer
    }

    fn scaled(&self, f: f64) -> TtlBuckets {
        TtlBuckets {
            none: scale(self.none, f),
            lt_1m: scale(self.lt_1m, f),
            lt_1h: scale(self.lt_1h, f),
            lt_1d: scale(self.lt_1d, f),
            longer: scale(self.longer, f),
        }
    }
}

fn scale(n: u64, f: f64) -> u64 {
    if f == 1.0 {
        n
    } else {
        (n as f64 * f).round() as u64
    }
}

/// Exact values up to this many, then a log histogram.
const EXACT_LIMIT: usize = 1024;
/// Histogram resolution: 16 buckets per power of two (≈4.4 % wide).
const SUB_BUCKETS: f64 = 16.0;

/// Percentile sketch: exact for small populations, a log-bucketed histogram
/// (relative error under 3 %, at most ~1,000 buckets) beyond.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SizeSketch {
    exact: Vec<u64>,
    hist: BTreeMap<u16, u64>,
    count: u64,
    max: u64,
    min: u64,
}

fn bucket_of(v: u64) -> u16 {
    if v == 0 {
        0
    } else {
        1 + ((v as f64).log2() * SUB_BUCKETS).floor() as u16
    }
}

fn bucket_value(b: u16) -> u64 {
    if b == 0 {
        0
    } else {
        // Geometric middle of the bucket.
        let lo = ((b - 1) as f64) / SUB_BUCKETS;
        2f64.powf(lo + 0.5 / SUB_BUCKETS).round() as u64
    }
}

impl SizeSketch {
    pub fn add(&mut self, v: u64) {
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.count += 1;
        if self.hist.is_empty() && self.exact.len() < EXACT_LIMIT {
            self.exact.push(v);
            return;
        }
        if !self.exact.is_empty() {
            for e in std::mem::take(&mut self.exact) {
                *self.hist.entry(bucket_of(e)).or_default() += 1;
            }
        }
        *self.hist.entry(bucket_of(v)).or_default() += 1;
    }

    pub fn merge(&mut self, o: &SizeSketch) {
        if o.count == 0 {
            return;
        }
        if self.hist.is_empty()
            && o.hist.is_empty()
            && self.exact.len() + o.exact.len() <= EXACT_LIMIT
        {
            self.exact.extend_from_slice(&o.exact);
        } else {
            for e in std::mem::take(&mut self.exact)
                .into_iter()
                .chain(o.exact.iter().copied())
            {
                *self.hist.entry(bucket_of(e)).or_default() += 1;
            }
            for (b, n) in &o.hist {
                *self.hist.entry(*b).or_default() += n;
            }
        }
        if self.count == 0 || o.min < self.min {
            self.min = o.min;
        }
        self.max = self.max.max(o.max);
        self.count += o.count;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Nearest-rank percentile, `q` in 0..=1; 0 for an empty sketch.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if self.hist.is_empty() {
            let mut v = self.exact.clone();
            v.sort_unstable();
            return v[(rank - 1) as usize];
        }
        let mut seen = 0;
        for (b, n) in &self.hist {
            seen += n;
            if seen >= rank {
                return bucket_value(*b).clamp(self.min, self.max);
            }
        }
        self.max
    }

    pub fn summary(&self) -> Percentiles {
        Percentiles {
            p50: self.percentile(0.50),
            p90: self.percentile(0.90),
            p99: self.percentile(0.99),
            max: self.max,
        }
    }
}

/// Key-size percentiles in bytes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// Running totals for one pattern (or the whole keyspace).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PatternStats {
    pub keys: u64,
    pub memory: u64,
    pub types: [u64; TYPE_NAMES.len()],
    pub ttl: TtlBuckets,
    pub size: SizeSketch,
    /// An example key, to show what the pattern stands for.
    pub example: Option<String>,
}

impl PatternStats {
    fn add(&mut self, k: &KeyInfo) {
        self.keys += 1;
        let mem = k.memory.unwrap_or(0);
        self.memory += mem;
        self.types[k.type_idx] += 1;
        self.ttl.add(k.ttl_ms);
        if let Some(m) = k.memory {
            self.size.add(m);
        }
        if self.example.is_none() {
            self.example = Some(k.key.clone());
        }
    }

    fn merge(&mut self, o: &PatternStats) {
        self.keys += o.keys;
        self.memory += o.memory;
        for (a, b) in self.types.iter_mut().zip(o.types.iter()) {
            *a += b;
        }
        self.ttl.merge(&o.ttl);
        self.size.merge(&o.size);
        if self.example.is_none() {
            self.example.clone_from(&o.example);
        }
    }
}

/// A key in a biggest-keys list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct BigKey {
    pub key: String,
    #[serde(rename = "type")]
    pub key_type: String,
    pub memory_bytes: Option<u64>,
    pub elements: Option<u64>,
    pub ttl_ms: Option<i64>,
    pub node: String,
}

/// A heap entry: score, key, type index, node, TTL, memory, elements.
type Ranked = (
    u64,
    String,
    usize,
    usize,
    Option<i64>,
    Option<u64>,
    Option<u64>,
);

/// The `n` largest items by a score, kept in a min-heap of `n` entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopN {
    n: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
}

impl TopN {
    pub fn new(n: usize) -> Self {
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n + 1),
        }
    }

    pub fn offer(&mut self, score: u64, k: &KeyInfo) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n
            && let Some(Reverse(min)) = self.heap.peek()
            && score <= min.0
        {
            return;
        }
        self.heap.push(Reverse((
            score,
            k.key.clone(),
            k.type_idx,
            k.node,
            k.ttl_ms,
            k.memory,
            k.elements,
        )));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    fn merge(&mut self, o: &TopN) {
        for Reverse(e) in &o.heap {
            self.heap.push(Reverse(e.clone()));
            if self.heap.len() > self.n {
                self.heap.pop();
            }
        }
    }

    /// Largest first.
    pub fn sorted(&self, node_names: &[String]) -> Vec<BigKey> {
        let mut v: Vec<_> = self.heap.iter().map(|Reverse(e)| e.clone()).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        v.into_iter()
            .map(|(_, key, t, node, ttl_ms, memory, elements)| BigKey {
                key,
                key_type: TYPE_NAMES[t].to_string(),
                memory_bytes: memory,
                elements,
                ttl_ms,
                node: node_names.get(node).cloned().unwrap_or_default(),
            })
            .collect()
    }
}

/// Per node totals.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct NodeTotals {
    pub keys: u64,
    pub memory: u64,
}

/// Everything a scan learns, in bounded memory (saved whole when an
/// interrupted scan is checkpointed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggregate {
    pub max_patterns: usize,
    pub patterns: HashMap<String, PatternStats>,
    pub overall: PatternStats,
    pub top_memory: TopN,
    pub top_elements: TopN,
    pub nodes: Vec<NodeTotals>,
    /// Keys at or above the big-key memory threshold.
    pub big_keys: u64,
    pub big_key_bytes: u64,
    /// Keys whose `MEMORY USAGE` the server did not answer.
    pub memory_unknown: u64,
    /// Reused buffer for the pattern of the key being added.
    #[serde(skip)]
    scratch: String,
}

impl Aggregate {
    pub fn new(max_patterns: usize, top: usize, nodes: usize, big_key_bytes: u64) -> Self {
        Aggregate {
            max_patterns: max_patterns.max(1),
            patterns: HashMap::new(),
            overall: PatternStats::default(),
            top_memory: TopN::new(top),
            top_elements: TopN::new(top),
            nodes: vec![NodeTotals::default(); nodes],
            big_keys: 0,
            big_key_bytes,
            memory_unknown: 0,
            scratch: String::new(),
        }
    }

    pub fn add(&mut self, k: &KeyInfo) {
        let mut pattern = std::mem::take(&mut self.scratch);
        super::pattern::classify_into(&k.key, &mut pattern);
        if let Some(s) = self.patterns.get_mut(pattern.as_str()) {
            s.add(k);
        } else if self.patterns.len() < self.max_patterns {
            self.patterns.entry(pattern.clone()).or_default().add(k);
        } else {
            self.patterns
                .entry(OTHER_PATTERN.to_string())
                .or_default()
                .add(k);
        }
        self.scratch = pattern;
        self.overall.add(k);
        if let Some(n) = self.nodes.get_mut(k.node) {
            n.keys += 1;
            n.memory += k.memory.unwrap_or(0);
        }
        match k.memory {
            Some(m) => {
                self.top_memory.offer(m, k);
                if m >= self.big_key_bytes {
                    self.big_keys += 1;
                }
            }
            None => self.memory_unknown += 1,
        }
        if let Some(e) = k.elements {
            self.top_elements.offer(e, k);
        }
    }

    /// Fold another aggregate (e.g. another node's) into this one.
    pub fn merge(&mut self, o: &Aggregate) {
        for (p, s) in &o.patterns {
            if let Some(mine) = self.patterns.get_mut(p) {
                mine.merge(s);
            } else if self.patterns.len() < self.max_patterns {
                self.patterns.insert(p.clone(), s.clone());
            } else {
                self.patterns
                    .entry(OTHER_PATTERN.to_string())
                    .or_default()
                    .merge(s);
            }
        }
        self.overall.merge(&o.overall);
        self.top_memory.merge(&o.top_memory);
        self.top_elements.merge(&o.top_elements);
        if self.nodes.len() < o.nodes.len() {
            self.nodes.resize(o.nodes.len(), NodeTotals::default());
        }
        for (a, b) in self.nodes.iter_mut().zip(o.nodes.iter()) {
            a.keys += b.keys;
            a.memory += b.memory;
        }
        self.big_keys += o.big_keys;
        self.memory_unknown += o.memory_unknown;
    }
}

/// One pattern in the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatternReport {
    pub pattern: String,
    pub example: Option<String>,
    /// Keys (extrapolated when sampling).
    pub keys: u64,
    pub memory_bytes: u64,
    pub mean_bytes: u64,
    /// Fraction of the keyspace's keys, 0..1.
    pub share_keys: f64,
    /// Fraction of the keyspace's memory, 0..1.
    pub share_memory: f64,
    /// Key count per Redis type (only types present).
    pub types: BTreeMap<String, u64>,
    pub ttl: TtlBuckets,
    /// `MEMORY USAGE` percentiles of the keys actually measured.
    pub size: Percentiles,
}

/// Totals over the whole scanned keyspace.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverallReport {
    pub keys: u64,
    pub memory_bytes: u64,
    pub mean_bytes: u64,
    pub types: BTreeMap<String, u64>,
    pub ttl: TtlBuckets,
    pub size: Percentiles,
    pub patterns: usize,
}

fn types_map(t: &[u64; TYPE_NAMES.len()], f: f64) -> BTreeMap<String, u64> {
    TYPE_NAMES
        .iter()
        .zip(t.iter())
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| (name.to_string(), scale(*n, f)))
        .collect()
}

impl Aggregate {
    /// Patterns sorted by memory (then keys, then name), counts multiplied
    /// by `factor` (the sampling extrapolation; 1.0 for a full scan).
    pub fn pattern_reports(&self, factor: f64) -> Vec<PatternReport> {
        let total_keys = self.overall.keys.max(1) as f64;
        let total_mem = self.overall.memory.max(1) as f64;
        let mut v: Vec<PatternReport> = self
            .patterns
            .iter()
            .map(|(p, s)| PatternReport {
                pattern: p.clone(),
                example: s.example.clone(),
                keys: scale(s.keys, factor),
                memory_bytes: scale(s.memory, factor),
                mean_bytes: s.memory / s.keys.max(1),
                share_keys: round4(s.keys as f64 / total_keys),
                share_memory: round4(s.memory as f64 / total_mem),
                types: types_map(&s.types, factor),
                ttl: s.ttl.scaled(factor),
                size: s.size.summary(),
            })
            .collect();
        v.sort_by(|a, b| {
            b.memory_bytes
                .cmp(&a.memory_bytes)
                .then(b.keys.cmp(&a.keys))
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v
    }

    pub fn overall_report(&self, factor: f64) -> OverallReport {
        let s = &self.overall;
        OverallReport {
            keys: scale(s.keys, factor),
            memory_bytes: scale(s.memory, factor),
            mean_bytes: s.memory / s.keys.max(1),
            types: types_map(&s.types, factor),
            ttl: s.ttl.scaled(factor),
            size: s.size.summary(),
            patterns: self.patterns.len(),
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, t: &str, ttl: Option<i64>, mem: u64, el: Option<u64>) -> KeyInfo {
        KeyInfo {
            key: k.into(),
            type_idx: type_index(t),
            ttl_ms: ttl,
            memory: Some(mem),
            elements: el,
            node: 0,
        }
    }

    #[test]
    fn exact_percentiles_for_small_sets() {
        let mut s = SizeSketch::default();
        for v in 1..=100 {
            s.add(v);
        }
        assert_eq!(
            s.summary(),
            Percentiles {
                p50: 50,
                p90: 90,
                p99: 99,
                max: 100
            }
        );
    }

    #[test]
    fn histogram_percentiles_within_three_percent() {
        let mut s = SizeSketch::default();
        for v in 1..=100_000u64 {
            s.add(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.9, 90_000.0), (0.99, 99_000.0)] {
            let got = s.percentile(q) as f64;
            assert!((got - want).abs() / want < 0.03, "q={q} got={got}");
        }
        assert_eq!(s.summary().max, 100_000);
        // Bounded: ~16 buckets per power of two.
        assert!(s.hist.len() < 17 * 16 + 2);
    }

    #[test]
    fn merge_equals_single_stream() {
        let mut a = SizeSketch::default();
        let mut b = SizeSketch::default();
        let mut all = SizeSketch::default();
        for v in 0..3000u64 {
            let x = v * 37 % 5000;
            if v % 2 == 0 {
                a.add(x)
            } else {
                b.add(x)
            }
            all.add(x);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn ttl_buckets() {
        let mut t = TtlBuckets::default();
        for ttl in [
            None,
            Some(10),
            Some(59_999),
            Some(60_000),
            Some(3_599_999),
            Some(3_600_000),
            Some(86_400_000),
        ] {
            t.add(ttl);
        }
        assert_eq!(
            t,
            TtlBuckets {
                none: 1,
                lt_1m: 2,
                lt_1h: 2,
                lt_1d: 1,
                longer: 1
            }
        );
    }

    #[test]
    fn aggregates_by_pattern_with_top_n() {
        let mut agg = Aggregate::new(100, 2, 1, 500);
        for i in 0..10 {
            agg.add(&key(
                &format!("customer:{i}"),
                "string",
                Some(3_000_000),
                100 + i,
                None,
            ));
        }
        agg.add(&key("queue:jobs", "list", None, 1000, Some(50)));
        agg.add(&key("set:a", "set", None, 10, Some(70)));
        let pats = agg.pattern_reports(1.0);
        assert_eq!(pats[0].pattern, "customer:{id}");
        assert_eq!(pats[0].keys, 10);
        assert_eq!(pats[0].memory_bytes, (100..110).sum::<u64>());
        assert_eq!(pats[0].ttl.lt_1h, 10);
        assert_eq!(pats[0].types.get("string"), Some(&10));
        let names = vec!["n1".to_string()];
        let top = agg.top_memory.sorted(&names);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].key, "queue:jobs");
        assert_eq!(top[1].key, "customer:9");
        let el = agg.top_elements.sorted(&names);
        assert_eq!(el[0].key, "set:a");
        assert_eq!(agg.big_keys, 1);
        assert_eq!(agg.overall_report(1.0).keys, 12);
    }

    #[test]
    fn pattern_cap_folds_into_other() {
        let mut agg = Aggregate::new(2, 1, 1, u64::MAX);
        for k in ["a:1", "b:1", "c:1", "d:1", "a:2"] {
            agg.add(&key(k, "string", None, 1, None));
        }
        let pats = agg.pattern_reports(1.0);
        let other = pats
            .iter()
            .find(|p| p.pattern == OTHER_PATTERN)
            .map(|p| p.keys);
        assert_eq!(other, Some(2));
        assert_eq!(pats.iter().map(|p| p.keys).sum::<u64>(), 5);
    }

    #[test]
    fn extrapolation_scales_counts_not_sizes() {
        let mut agg = Aggregate::new(10, 1, 1, u64::MAX);
        agg.add(&key("x:1", "string", None, 40, None));
        let p = &agg.pattern_reports(10.0)[0];
        assert_eq!(
            (p.keys, p.memory_bytes, p.mean_bytes, p.size.max),
            (10, 400, 40, 40)
        );
    }
}
