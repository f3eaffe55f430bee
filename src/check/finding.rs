//! What a rule reports: one [`Finding`] per (rule, query shape), with the
//! numbers that made it fire so a reader can judge it without re-running.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::normalize::Fingerprint;

/// How bad a finding is. Only `error` fails `pgadvisor check` (exit 1).
/// One type for workload rules and EXPLAIN findings alike.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule says about one shape; the engine adds who, what and how bad.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub message: String,
    pub help: String,
    /// The figures behind the verdict (`mean_ms`, `threshold_ms`, `calls`, …).
    pub evidence: BTreeMap<String, f64>,
}

impl Hit {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Hit {
            message: message.into(),
            help: help.into(),
            evidence: BTreeMap::new(),
        }
    }

    /// Add one evidence figure (builder style, so rules read as one expression).
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.evidence.insert(name.to_string(), value);
        self
    }
}

/// One rule firing on one query shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable kebab-case rule id (`pgadvisor rule <id>` documents it).
    pub rule: String,
    pub severity: Severity,
    pub fingerprint: Fingerprint,
    /// pg_stat_statements queryids behind the shape (empty for log sources).
    pub queryids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// One line: what is wrong, with the numbers.
    pub message: String,
    /// What to do about it.
    pub help: String,
    /// The figures behind the verdict, by name.
    pub evidence: BTreeMap<String, f64>,
    /// The query text, on one line and shortened.
    pub query: String,
}

/// Longest query text a finding carries (characters).
pub const QUERY_TEXT_MAX: usize = 200;

/// `1 call`, `12 calls`: call counts in messages.
pub fn calls(n: i64) -> String {
    if n == 1 {
        "1 call".to_string()
    } else {
        format!("{n} calls")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn call_counts_read_as_english() {
        assert_eq!(super::calls(1), "1 call");
        assert_eq!(super::calls(0), "0 calls");
        assert_eq!(super::calls(12), "12 calls");
    }
}
