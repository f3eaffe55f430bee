//! Query shapes: statement statistics grouped by fingerprint. `top`,
//! `check` and `advise` all rank and judge shapes, never raw rows, so one
//! query shape is one row whatever its literals or IN-list lengths.

use serde::{Deserialize, Serialize};

use crate::normalize::Fingerprint;

/// All statistics of one query shape, summed over the rows that share its
/// fingerprint (and user/database unless those are merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryShape {
    pub fingerprint: Fingerprint,
    /// pg_stat_statements queryids folded into this shape (sorted, unique).
    pub queryids: Vec<i64>,
    pub user: Option<String>,
    pub database: Option<String>,
    /// Canonical text (docs/fingerprint.md).
    pub normalized: String,
    /// One original text of the shape, as the source gave it.
    pub query: String,
    /// True when the fingerprint came from the token-level fallback.
    pub fallback: bool,
    pub calls: i64,
    pub total_exec_time: f64,
    pub mean_exec_time: f64,
    pub min_exec_time: f64,
    pub max_exec_time: f64,
    pub total_plan_time: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    pub io_time: f64,
    /// This shape's share of the workload's total execution time, 0..=100.
    pub pct_total_time: f64,
}
