//! Normalize and fingerprint: one query shape, one fingerprint, whatever its
//! literals. The canonical form and hash are specified in docs/fingerprint.md
//! and pinned by golden tests; changing them breaks users' baselines.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// Canonical text: literals as `$n`, keywords upper-case, whitespace collapsed.
    pub text: String,
    /// True when sqlparser could not parse the statement and the token-level
    /// fallback produced the fingerprint.
    pub fallback: bool,
}

/// Normalize and fingerprint one statement.
///
/// Interim lexical version (whitespace and case only); the fingerprint
/// work replaces it with the canonical form of docs/fingerprint.md.
pub fn fingerprint(sql: &str) -> Normalized {
    let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let fingerprint = Fingerprint(xxhash_rust::xxh3::xxh3_64(text.to_lowercase().as_bytes()));
    Normalized {
        fingerprint,
        text,
        fallback: true,
    }
}
