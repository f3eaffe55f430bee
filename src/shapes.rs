//! Query shapes: statement statistics grouped by fingerprint. `top`,
//! `check` and `advise` all rank and judge shapes, never raw rows, so one
//! query shape is one row whatever its literals or IN-list lengths.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::intake::StatementStat;
use crate::normalize::{Fingerprint, Normalized};

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

impl QueryShape {
    /// Share of shared-buffer accesses served from the cache, 0..=1;
    /// `None` when the shape touched no shared buffers.
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.shared_blks_hit + self.shared_blks_read;
        (total > 0).then(|| self.shared_blks_hit as f64 / total as f64)
    }

    /// Rows returned or affected per call.
    pub fn rows_per_call(&self) -> f64 {
        if self.calls > 0 {
            self.rows as f64 / self.calls as f64
        } else {
            0.0
        }
    }

    /// Temporary-file blocks read and written.
    pub fn temp_blks(&self) -> i64 {
        self.temp_blks_read + self.temp_blks_written
    }
}

/// What rows are told apart by, besides the fingerprint. The default
/// keeps users and databases apart (as pg_stat_statements does); merging
/// one or both folds the same query shape across them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupOptions {
    pub merge_users: bool,
    pub merge_databases: bool,
}

/// The orderings `top --sort` offers; all descending.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Total execution time.
    #[default]
    Total,
    /// Mean execution time per call.
    Mean,
    /// Number of calls.
    Calls,
    /// Rows returned or affected.
    Rows,
    /// I/O: block read/write time (track_io_timing), then shared blocks read.
    Io,
    /// Temporary-file blocks read + written.
    Temp,
}

impl SortKey {
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Total => "total",
            SortKey::Mean => "mean",
            SortKey::Calls => "calls",
            SortKey::Rows => "rows",
            SortKey::Io => "io",
            SortKey::Temp => "temp",
        }
    }
}

/// Group statement statistics into query shapes: one per fingerprint
/// (and user and database unless merged). Counters are summed, the mean is
/// recomputed from the sums, min/max are the extremes of the rows, and
/// `pct_total_time` is each shape's share of all statements' execution
/// time. A merged user or database is kept when every row agrees on it and
/// is `None` otherwise. Shapes come back in first-seen order; see [`sort`].
pub fn group(statements: &[StatementStat], opts: &GroupOptions) -> Vec<QueryShape> {
    struct Acc {
        shape: QueryShape,
        best_total: f64,
        user_mixed: bool,
        db_mixed: bool,
    }
    let mut accs: Vec<Acc> = Vec::new();
    let mut index: HashMap<(Fingerprint, Option<String>, Option<String>), usize> = HashMap::new();
    let mut cache: HashMap<&str, Normalized> = HashMap::new();
    let mut workload_total = 0.0;
    for st in statements {
        workload_total += st.total_exec_time;
        let norm = cache
            .entry(st.query.as_str())
            .or_insert_with(|| crate::normalize::fingerprint(&st.query))
            .clone();
        let key = (
            norm.fingerprint,
            if opts.merge_users {
                None
            } else {
                st.user.clone()
            },
            if opts.merge_databases {
                None
            } else {
                st.database.clone()
            },
        );
        let i = *index.entry(key).or_insert_with(|| {
            accs.push(Acc {
                shape: QueryShape {
                    fingerprint: norm.fingerprint,
                    user: st.user.clone(),
                    database: st.database.clone(),
                    normalized: norm.text.clone(),
                    query: st.query.clone(),
                    fallback: norm.fallback,
                    min_exec_time: f64::INFINITY,
                    ..QueryShape::default()
                },
                best_total: f64::NEG_INFINITY,
                user_mixed: false,
                db_mixed: false,
            });
            accs.len() - 1
        });
        let acc = &mut accs[i];
        acc.user_mixed |= acc.shape.user != st.user;
        acc.db_mixed |= acc.shape.database != st.database;
        let s = &mut acc.shape;
        if let Some(q) = st.queryid {
            s.queryids.push(q);
        }
        // The representative text: the row with the most time (ties: the
        // smaller text, so the choice does not depend on row order).
        if st.total_exec_time > acc.best_total
            || (st.total_exec_time == acc.best_total && st.query < s.query)
        {
            acc.best_total = st.total_exec_time;
            s.query = st.query.clone();
        }
        s.calls += st.calls;
        s.total_exec_time += st.total_exec_time;
        s.total_plan_time += st.total_plan_time;
        if st.calls > 0 {
            s.min_exec_time = s.min_exec_time.min(st.min_exec_time);
            s.max_exec_time = s.max_exec_time.max(st.max_exec_time);
        }
        s.rows += st.rows;
        s.shared_blks_hit += st.shared_blks_hit;
        s.shared_blks_read += st.shared_blks_read;
        s.temp_blks_read += st.temp_blks_read;
        s.temp_blks_written += st.temp_blks_written;
        s.io_time += st.io_time;
    }
    accs.into_iter()
        .map(|acc| {
            let mut s = acc.shape;
            if acc.user_mixed {
                s.user = None;
            }
            if acc.db_mixed {
                s.database = None;
            }
            s.queryids.sort_unstable();
            s.queryids.dedup();
            if !s.min_exec_time.is_finite() {
                s.min_exec_time = 0.0;
            }
            s.mean_exec_time = if s.calls > 0 {
                s.total_exec_time / s.calls as f64
            } else {
                0.0
            };
            s.pct_total_time = if workload_total > 0.0 {
                100.0 * s.total_exec_time / workload_total
            } else {
                0.0
            };
            s
        })
        .collect()
}

/// Order shapes by `key`, largest first. Ties fall back to total time,
/// then fingerprint, user and database, so the order never depends on the
/// input's row order.
pub fn sort(shapes: &mut [QueryShape], key: SortKey) {
    fn primary(s: &QueryShape, key: SortKey) -> (f64, f64) {
        match key {
            SortKey::Total => (s.total_exec_time, 0.0),
            SortKey::Mean => (s.mean_exec_time, 0.0),
            SortKey::Calls => (s.calls as f64, 0.0),
            SortKey::Rows => (s.rows as f64, 0.0),
            SortKey::Io => (s.io_time, s.shared_blks_read as f64),
            SortKey::Temp => (s.temp_blks() as f64, 0.0),
        }
    }
    shapes.sort_by(|a, b| {
        let (pa, sa) = primary(a, key);
        let (pb, sb) = primary(b, key);
        pb.total_cmp(&pa)
            .then(sb.total_cmp(&sa))
            .then(b.total_exec_time.total_cmp(&a.total_exec_time))
            .then(a.fingerprint.cmp(&b.fingerprint))
            .then(a.user.cmp(&b.user))
            .then(a.database.cmp(&b.database))
    });
}

/// Which shapes a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub sort: SortKey,
    /// At most this many shapes; 0 = all.
    pub limit: usize,
    /// Leave out shapes with fewer calls.
    pub min_calls: i64,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            sort: SortKey::Total,
            limit: 20,
            min_calls: 0,
        }
    }
}

/// Sort, filter by `min_calls` and cut to `limit`.
pub fn select(mut shapes: Vec<QueryShape>, sel: &Selection) -> Vec<QueryShape> {
    shapes.retain(|s| s.calls >= sel.min_calls);
    sort(&mut shapes, sel.sort);
    if sel.limit > 0 {
        shapes.truncate(sel.limit);
    }
    shapes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn stat(q: &str, user: &str, db: &str, queryid: i64, calls: i64, total: f64) -> StatementStat {
        StatementStat {
            queryid: Some(queryid),
            user: Some(user.into()),
            database: Some(db.into()),
            query: q.into(),
            calls,
            total_exec_time: total,
            min_exec_time: total / calls as f64 / 2.0,
            max_exec_time: total / calls as f64 * 2.0,
            rows: calls,
            shared_blks_hit: 90,
            shared_blks_read: 10,
            ..StatementStat::default()
        }
    }

    fn workload() -> Vec<StatementStat> {
        vec![
            stat("SELECT * FROM t WHERE id = $1", "app", "shop", 1, 10, 100.0),
            stat(
                "SELECT  *  FROM t\n WHERE id = $1",
                "app",
                "shop",
                2,
                30,
                60.0,
            ),
            stat("SELECT * FROM t WHERE id = $1", "batch", "shop", 3, 5, 40.0),
            stat("SELECT * FROM t WHERE id = $1", "app", "crm", 4, 1, 0.0),
            stat("UPDATE t SET a = $1", "app", "shop", 5, 2, 800.0),
        ]
    }

    #[test]
    fn groups_sum_and_recompute() {
        let shapes = group(&workload(), &GroupOptions::default());
        assert_eq!(shapes.len(), 4);
        let first = &shapes[0];
        assert_eq!(first.queryids, [1, 2]);
        assert_eq!(first.calls, 40);
        assert_eq!(first.total_exec_time, 160.0);
        assert_eq!(first.mean_exec_time, 4.0);
        assert_eq!(first.min_exec_time, 1.0);
        assert_eq!(first.max_exec_time, 20.0);
        assert_eq!(first.pct_total_time, 16.0);
        assert_eq!(first.query, "SELECT * FROM t WHERE id = $1");
        assert_eq!(first.hit_ratio(), Some(0.9));
        let pct: f64 = shapes.iter().map(|s| s.pct_total_time).sum();
        assert!((pct - 100.0).abs() < 1e-9);
    }

    #[test]
    fn merging_users_and_databases() {
        let users = group(
            &workload(),
            &GroupOptions {
                merge_users: true,
                merge_databases: false,
            },
        );
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].queryids, [1, 2, 3]);
        assert_eq!(users[0].user, None, "two users folded: no single user");
        assert_eq!(users[0].database.as_deref(), Some("shop"));
        let all = group(
            &workload(),
            &GroupOptions {
                merge_users: true,
                merge_databases: true,
            },
        );
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].queryids, [1, 2, 3, 4]);
        assert_eq!(all[1].user.as_deref(), Some("app"), "one user: kept");
    }

    #[test]
    fn sort_limit_and_min_calls() {
        let shapes = group(&workload(), &GroupOptions::default());
        let top = select(shapes.clone(), &Selection::default());
        assert_eq!(top[0].queryids, [5]);
        let by_calls = select(
            shapes.clone(),
            &Selection {
                sort: SortKey::Calls,
                limit: 2,
                min_calls: 0,
            },
        );
        assert_eq!(by_calls.len(), 2);
        assert_eq!(by_calls[0].calls, 40);
        let busy = select(
            shapes,
            &Selection {
                sort: SortKey::Mean,
                limit: 0,
                min_calls: 5,
            },
        );
        assert_eq!(busy.len(), 2);
        assert_eq!(busy[0].queryids, [3]);
    }
}
