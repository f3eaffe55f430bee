//! Normalize and fingerprint: one query shape, one fingerprint, whatever its
//! literals. The canonical form and hash are specified in docs/fingerprint.md
//! and pinned by golden tests; changing them breaks users' baselines.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

mod canon;
mod keywords;
pub mod lexer;
pub mod split;
mod text;

#[cfg(test)]
mod tests;

pub use split::{Statement, split_statements};

/// A 64-bit query fingerprint, shown as 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            anyhow::bail!("a fingerprint is 16 hex digits, got {s:?}");
        }
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| anyhow::anyhow!("a fingerprint is 16 hex digits, got {s:?}"))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The result of normalizing one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Normalized {
    pub fingerprint: Fingerprint,
    /// Normalized text (docs/fingerprint.md): constants as `$n`, keywords
    /// upper-case, identifiers lower-case, comments dropped, whitespace
    /// collapsed, IN lists / ARRAY[…] / VALUES rows folded to one.
    pub text: String,
    /// True when sqlparser could not parse the statement and the token-level
    /// fallback produced the fingerprint.
    pub fallback: bool,
}

/// Names the canonical form and hash below; it is hashed in front of every
/// canonical form, so a change of either is a new version, never a silent one.
pub const FINGERPRINT_VERSION: &str = "pgadvisor-fingerprint-1";

/// Normalize and fingerprint one statement (docs/fingerprint.md).
pub fn fingerprint(sql: &str) -> Normalized {
    let text = text::normalize(sql);
    let (fingerprint, fallback) = shape_of(&text);
    Normalized {
        fingerprint,
        text,
        fallback,
    }
}

/// The normalized text alone, without parsing.
pub fn normalized_text(sql: &str) -> String {
    text::normalize(sql)
}

/// Fingerprint of a normalized text: the parsed canonical form when
/// sqlparser reads the statement, else the token-level one.
fn shape_of(normalized: &str) -> (Fingerprint, bool) {
    match canon::canonical(normalized) {
        Some(canonical) => (hash("ast", &canonical), false),
        None => (hash("tokens", &text::token_canonical(normalized)), true),
    }
}

/// xxh3-64 of `FINGERPRINT_VERSION \n kind \n canonical`.
fn hash(kind: &str, canonical: &str) -> Fingerprint {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(FINGERPRINT_VERSION.as_bytes());
    h.update(b"\n");
    h.update(kind.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    Fingerprint(h.digest())
}

/// A fingerprinter for many statements: it remembers the fingerprint of
/// each normalized text it has seen, so a query shape is parsed once
/// however often it recurs (workloads repeat a few thousand shapes).
#[derive(Debug, Default)]
pub struct Fingerprinter {
    cache: HashMap<String, (Fingerprint, bool)>,
}

/// Past this many remembered texts the cache starts over (bounded memory
/// on endless streams of distinct texts).
const CACHE_LIMIT: usize = 1 << 20;

/// Below this many statements per thread, threads cost more than they save.
const MIN_PER_THREAD: usize = 2048;

impl Fingerprinter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Distinct normalized texts remembered.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Same result as [`fingerprint`], parsing only texts not seen before.
    pub fn fingerprint(&mut self, sql: &str) -> Normalized {
        let text = text::normalize(sql);
        let (fingerprint, fallback) = match self.cache.get(&text) {
            Some(hit) => *hit,
            None => {
                let shape = shape_of(&text);
                self.remember(text.clone(), shape);
                shape
            }
        };
        Normalized {
            fingerprint,
            text,
            fallback,
        }
    }

    fn remember(&mut self, text: String, shape: (Fingerprint, bool)) {
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache.insert(text, shape);
    }

    /// Fingerprint a batch on up to `threads` threads; results in input
    /// order, equal to calling [`fingerprint`] on each statement.
    pub fn fingerprint_all(&mut self, sqls: &[&str], threads: usize) -> Vec<Normalized> {
        let threads = threads.clamp(1, sqls.len() / MIN_PER_THREAD + 1);
        let texts: Vec<String> = par_map(sqls, threads, |s| text::normalize(s));
        let mut missing: Vec<&str> = Vec::new();
        {
            let mut seen: HashSet<&str> = HashSet::new();
            for t in &texts {
                if !self.cache.contains_key(t.as_str()) && seen.insert(t.as_str()) {
                    missing.push(t.as_str());
                }
            }
        }
        let shapes = par_map(&missing, threads, |t| shape_of(t));
        let mut fresh: HashMap<&str, (Fingerprint, bool)> = HashMap::with_capacity(missing.len());
        for (t, shape) in missing.iter().zip(&shapes) {
            fresh.insert(t, *shape);
        }
        let results: Vec<(Fingerprint, bool)> = texts
            .iter()
            .map(|t| {
                fresh
                    .get(t.as_str())
                    .or_else(|| self.cache.get(t.as_str()))
                    .copied()
                    .unwrap_or_else(|| shape_of(t))
            })
            .collect();
        for (t, shape) in fresh {
            let t = t.to_string();
            self.remember(t, shape);
        }
        texts
            .into_iter()
            .zip(results)
            .map(|(text, (fingerprint, fallback))| Normalized {
                fingerprint,
                text,
                fallback,
            })
            .collect()
    }
}

/// Fingerprint a batch with a fresh cache on all available cores.
pub fn fingerprint_all(sqls: &[&str]) -> Vec<Normalized> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Fingerprinter::new().fingerprint_all(sqls, threads)
}

/// `items.iter().map(f)` on `threads` scoped threads; work is handed out
/// in small chunks so uneven items (a 10 KB report next to `BEGIN`) still
/// keep every thread busy. Order is preserved.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < 2 * CHUNK {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<R>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // Parsing and rendering recurse with the query's nesting; give
            // workers the main thread's room rather than the 2 MiB default.
            let spawned = std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, || {
                    let mut mine = Vec::new();
                    loop {
                        let chunk = next.fetch_add(1, Ordering::Relaxed);
                        let start = chunk * CHUNK;
                        if start >= items.len() {
                            break;
                        }
                        let end = (start + CHUNK).min(items.len());
                        mine.push((chunk, items[start..end].iter().map(&f).collect::<Vec<R>>()));
                    }
                    if let Ok(mut done) = done.lock() {
                        done.extend(mine);
                    }
                });
            // A thread that cannot start leaves its share to the others
            // (or to the sequential pass below).
            drop(spawned);
        }
    });
    let mut chunks = done
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    chunks.sort_by_key(|(i, _)| *i);
    let out: Vec<R> = chunks.into_iter().flat_map(|(_, v)| v).collect();
    if out.len() == items.len() {
        out
    } else {
        // Only a panicking worker could lose a chunk, and scope re-raises
        // that; stay correct regardless.
        items.iter().map(f).collect()
    }
}

const CHUNK: usize = 256;

const WORKER_STACK: usize = 16 << 20;
