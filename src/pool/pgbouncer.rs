//! PgBouncer's admin console: `SHOW POOLS` sampled with pg_stat_activity
//! (clients waiting, server connections in use, longest wait), `SHOW
//! STATS` read at both ends of the window (transaction rate and time:
//! Little's law at the pooler), `SHOW DATABASES` and `SHOW CONFIG` for
//! the pool sizes in force.
//!
//! The console is the special database `pgbouncer` and speaks only the
//! simple query protocol, so every command goes through `simple_query`
//! and columns are read by name as text: PgBouncer versions add and
//! rename columns (1.18 `cl_cancel_req`, 1.21 `cl_active_cancel_req`…),
//! and a missing column reads as absent rather than failing.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tokio_postgres::SimpleQueryMessage;

use super::stats::{Distribution, round};
use crate::conn::ConnArgs;

const SHOW_POOLS: &str = include_str!("../../sql/pgbouncer_show_pools.sql");
const SHOW_STATS: &str = include_str!("../../sql/pgbouncer_show_stats.sql");
const SHOW_DATABASES: &str = include_str!("../../sql/pgbouncer_show_databases.sql");
const SHOW_CONFIG: &str = include_str!("../../sql/pgbouncer_show_config.sql");

/// The admin console's own pseudo-database, left out of every figure.
pub const ADMIN_DB: &str = "pgbouncer";

/// One row of a SHOW command: column name → text value.
pub type Record = BTreeMap<String, Option<String>>;

fn text(r: &Record, col: &str) -> Option<String> {
    r.get(col).cloned().flatten()
}

fn int(r: &Record, col: &str) -> Option<i64> {
    r.get(col)
        .and_then(|v| v.as_deref())
        .and_then(|v| v.trim().parse().ok())
}

/// One pool (database, user) at one moment (`SHOW POOLS`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolRow {
    pub database: String,
    pub user: String,
    pub cl_active: u32,
    pub cl_waiting: u32,
    pub sv_active: u32,
    pub sv_idle: u32,
    /// How long the oldest waiting client has waited, in microseconds.
    pub maxwait_us: i64,
    pub pool_mode: Option<String>,
}

pub fn parse_pools(records: &[Record]) -> Vec<PoolRow> {
    let n = |r: &Record, c: &str| int(r, c).unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
    records
        .iter()
        .filter_map(|r| {
            let database = text(r, "database")?;
            if database == ADMIN_DB {
                return None;
            }
            Some(PoolRow {
                user: text(r, "user").unwrap_or_default(),
                cl_active: n(r, "cl_active"),
                cl_waiting: n(r, "cl_waiting"),
                sv_active: n(r, "sv_active"),
                sv_idle: n(r, "sv_idle"),
                maxwait_us: int(r, "maxwait").unwrap_or(0) * 1_000_000
                    + int(r, "maxwait_us").unwrap_or(0),
                pool_mode: text(r, "pool_mode"),
                database,
            })
        })
        .collect()
}

/// Cumulative counters per database (`SHOW STATS`); times in microseconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsRow {
    pub database: String,
    pub xact_count: i64,
    pub query_count: i64,
    pub xact_time_us: i64,
    pub query_time_us: i64,
    pub wait_time_us: i64,
}

pub fn parse_stats(records: &[Record]) -> Vec<StatsRow> {
    records
        .iter()
        .filter_map(|r| {
            let database = text(r, "database")?;
            if database == ADMIN_DB {
                return None;
            }
            Some(StatsRow {
                xact_count: int(r, "total_xact_count").unwrap_or(0),
                query_count: int(r, "total_query_count").unwrap_or(0),
                xact_time_us: int(r, "total_xact_time").unwrap_or(0),
                query_time_us: int(r, "total_query_time").unwrap_or(0),
                wait_time_us: int(r, "total_wait_time").unwrap_or(0),
                database,
            })
        })
        .collect()
}

/// A database entry (`SHOW DATABASES`): the pool size in force for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseRow {
    pub name: String,
    pub pool_size: Option<i64>,
    pub reserve_pool: Option<i64>,
    /// Empty when the database follows the global pool_mode.
    pub pool_mode: Option<String>,
    pub max_connections: Option<i64>,
}

pub fn parse_databases(records: &[Record]) -> Vec<DatabaseRow> {
    records
        .iter()
        .filter_map(|r| {
            let name = text(r, "name")?;
            if name == ADMIN_DB {
                return None;
            }
            Some(DatabaseRow {
                pool_size: int(r, "pool_size"),
                reserve_pool: int(r, "reserve_pool"),
                pool_mode: text(r, "pool_mode").filter(|m| !m.is_empty()),
                max_connections: int(r, "max_connections"),
                name,
            })
        })
        .collect()
}

/// The settings pool sizing is about (`SHOW CONFIG`).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Settings {
    pub pool_mode: Option<String>,
    pub default_pool_size: Option<i64>,
    pub reserve_pool_size: Option<i64>,
    pub max_client_conn: Option<i64>,
    pub max_db_connections: Option<i64>,
}

pub fn parse_config(records: &[Record]) -> Settings {
    let map: BTreeMap<String, String> = records
        .iter()
        .filter_map(|r| Some((text(r, "key")?, text(r, "value")?)))
        .collect();
    let n = |k: &str| map.get(k).and_then(|v| v.trim().parse().ok());
    Settings {
        pool_mode: map.get("pool_mode").cloned(),
        default_pool_size: n("default_pool_size"),
        reserve_pool_size: n("reserve_pool_size"),
        max_client_conn: n("max_client_conn"),
        max_db_connections: n("max_db_connections"),
    }
}

#[derive(Debug, Default)]
struct PoolAcc {
    cl_active: Vec<u32>,
    cl_waiting: Vec<u32>,
    sv_active: Vec<u32>,
    maxwait_us: i64,
    pool_mode: Option<String>,
}

/// Accumulates `SHOW POOLS` samples per (database, user).
#[derive(Debug, Default)]
pub struct PoolsAccumulator {
    scope_db: Option<String>,
    samples: usize,
    pools: BTreeMap<(String, String), PoolAcc>,
    /// Per sample: clients at the pooler (cl_active + cl_waiting, all pools in scope).
    clients: Vec<u32>,
}

impl PoolsAccumulator {
    pub fn new(scope_db: Option<String>) -> PoolsAccumulator {
        PoolsAccumulator {
            scope_db,
            ..PoolsAccumulator::default()
        }
    }

    pub fn add(&mut self, rows: &[PoolRow]) {
        let i = self.samples;
        self.samples += 1;
        let mut clients = 0u32;
        for r in rows {
            if self.scope_db.as_ref().is_some_and(|d| *d != r.database) {
                continue;
            }
            clients = clients.saturating_add(r.cl_active.saturating_add(r.cl_waiting));
            let p = self
                .pools
                .entry((r.database.clone(), r.user.clone()))
                .or_default();
            for v in [&mut p.cl_active, &mut p.cl_waiting, &mut p.sv_active] {
                v.resize(i, 0);
            }
            p.cl_active.push(r.cl_active);
            p.cl_waiting.push(r.cl_waiting);
            p.sv_active.push(r.sv_active);
            p.maxwait_us = p.maxwait_us.max(r.maxwait_us);
            if r.pool_mode.is_some() {
                p.pool_mode = r.pool_mode.clone();
            }
        }
        self.clients.push(clients);
    }

    /// Clients at the pooler per sample (cl_active + cl_waiting over the pools in scope).
    pub fn clients(&self) -> Distribution {
        Distribution::of(&self.clients)
    }

    /// Per-pool distributions; `databases` and `settings` give each pool its size.
    pub fn finish(self, databases: &[DatabaseRow], settings: &Settings) -> Vec<PoolStats> {
        let samples = self.samples;
        self.pools
            .into_iter()
            .map(|((database, user), mut p)| {
                for v in [&mut p.cl_active, &mut p.cl_waiting, &mut p.sv_active] {
                    v.resize(samples, 0);
                }
                let waiting_samples = p.cl_waiting.iter().filter(|&&w| w > 0).count();
                let pool_size = databases
                    .iter()
                    .find(|d| d.name == database)
                    .and_then(|d| d.pool_size)
                    .or(settings.default_pool_size);
                PoolStats {
                    pool_size,
                    pool_mode: p.pool_mode.clone(),
                    cl_active: Distribution::of(&p.cl_active),
                    cl_waiting: Distribution::of(&p.cl_waiting),
                    sv_active: Distribution::of(&p.sv_active),
                    max_wait_ms: round(p.maxwait_us as f64 / 1000.0, 3),
                    waiting_share: if samples == 0 {
                        0.0
                    } else {
                        round(waiting_samples as f64 / samples as f64, 4)
                    },
                    database,
                    user,
                }
            })
            .collect()
    }
}

/// One PgBouncer pool over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStats {
    pub database: String,
    pub user: String,
    pub pool_mode: Option<String>,
    /// Server connections this pool may open (SHOW DATABASES pool_size, else default_pool_size).
    pub pool_size: Option<i64>,
    pub cl_active: Distribution,
    pub cl_waiting: Distribution,
    pub sv_active: Distribution,
    /// Longest time a client waited for a server connection (ms).
    pub max_wait_ms: f64,
    /// Share of samples with at least one client waiting.
    pub waiting_share: f64,
}

impl PoolStats {
    /// Saturated: every server connection busy at p95 while clients wait.
    pub fn saturated(&self) -> bool {
        let full = self
            .pool_size
            .is_some_and(|size| size > 0 && i64::from(self.sv_active.p95) >= size);
        full && self.cl_waiting.max > 0
    }
}

/// Transactions through PgBouncer over the window (SHOW STATS delta).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Throughput {
    pub window_s: f64,
    pub transactions: i64,
    /// λ at the pooler.
    pub transactions_per_s: f64,
    /// W: mean time a transaction held a server connection (ms).
    pub mean_transaction_time_ms: f64,
    pub queries: i64,
    pub mean_query_time_ms: f64,
    /// Mean time clients waited for a server connection, per transaction (ms).
    pub mean_wait_per_transaction_ms: f64,
    /// L = λ × W: clients in transactions, on average. PgBouncer (1.18,
    /// measured) times a transaction from the client's first query, so W
    /// includes the wait for a server and L is the clients' demand, not
    /// capped by the pool size.
    pub concurrency: f64,
    /// Clients waiting for a server connection, on average (Little's law
    /// on PgBouncer's queue: total wait time / window).
    pub waiting: f64,
}

/// Little's law from two SHOW STATS readings. Databases in `after` but
/// not in `before` started during the window (counters from 0); counters
/// that went down (PgBouncer restarted) count from 0 too.
pub fn throughput(
    before: &[StatsRow],
    after: &[StatsRow],
    window_s: f64,
    scope_db: Option<&str>,
) -> Option<Throughput> {
    if window_s <= 0.0 || !window_s.is_finite() {
        return None;
    }
    let (mut x, mut q, mut xt, mut qt, mut wt) = (0i64, 0i64, 0i64, 0i64, 0i64);
    for a in after {
        if scope_db.is_some_and(|d| d != a.database) {
            continue;
        }
        let b = before
            .iter()
            .find(|b| b.database == a.database)
            .filter(|b| b.xact_count <= a.xact_count && b.xact_time_us <= a.xact_time_us)
            .cloned()
            .unwrap_or_default();
        x += a.xact_count - b.xact_count;
        q += (a.query_count - b.query_count).max(0);
        xt += a.xact_time_us - b.xact_time_us;
        qt += (a.query_time_us - b.query_time_us).max(0);
        wt += (a.wait_time_us - b.wait_time_us).max(0);
    }
    let per = |t: i64, n: i64| {
        if n > 0 {
            round(t as f64 / 1000.0 / n as f64, 3)
        } else {
            0.0
        }
    };
    Some(Throughput {
        window_s: round(window_s, 3),
        transactions: x,
        transactions_per_s: round(x as f64 / window_s, 2),
        mean_transaction_time_ms: per(xt, x),
        queries: q,
        mean_query_time_ms: per(qt, q),
        mean_wait_per_transaction_ms: per(wt, x),
        concurrency: round(xt as f64 / 1e6 / window_s, 3),
        waiting: round(wt as f64 / 1e6 / window_s, 3),
    })
}

/// A connection to the admin console.
pub struct Console {
    client: tokio_postgres::Client,
    pub display: String,
}

impl Console {
    /// Connect to `url`, which must name the `pgbouncer` database.
    pub async fn connect(url: &str, timeout: std::time::Duration) -> Result<Console> {
        let args = ConnArgs {
            dsn: Some(url.to_string()),
            connect_timeout: timeout,
        };
        let target = args
            .resolve()
            .context("cannot read the --pgbouncer connection string")?;
        if target.config.get_dbname() != Some(ADMIN_DB) {
            bail!(
                "--pgbouncer must point at PgBouncer's admin console, the special database \
                 \"pgbouncer\" (e.g. postgres://user@host:6432/pgbouncer); {} names another \
                 database",
                target.display
            );
        }
        let client = target.connect().await.with_context(|| {
            format!(
                "cannot reach PgBouncer's admin console at {}: check the port (PgBouncer's \
                 listen_port, often 6432) and that the user is listed in admin_users or \
                 stats_users in pgbouncer.ini",
                target.display
            )
        })?;
        Ok(Console {
            client,
            display: target.display,
        })
    }

    async fn show(&self, command: &str) -> Result<Vec<Record>> {
        let messages = self.client.simple_query(command).await.with_context(|| {
            format!(
                "PgBouncer at {} refused `{}`: the user must be listed in admin_users or \
                 stats_users in pgbouncer.ini",
                self.display,
                command.trim()
            )
        })?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    row.columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.name().to_string(), row.get(i).map(str::to_string)))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    pub async fn pools(&self) -> Result<Vec<PoolRow>> {
        Ok(parse_pools(&self.show(SHOW_POOLS).await?))
    }

    pub async fn stats(&self) -> Result<Vec<StatsRow>> {
        Ok(parse_stats(&self.show(SHOW_STATS).await?))
    }

    pub async fn databases(&self) -> Result<Vec<DatabaseRow>> {
        Ok(parse_databases(&self.show(SHOW_DATABASES).await?))
    }

    pub async fn settings(&self) -> Result<Settings> {
        Ok(parse_config(&self.show(SHOW_CONFIG).await?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    /// Records from psql-like text: a header line and `|`-separated rows.
    fn records(text: &str) -> Vec<Record> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        lines
            .map(|l| {
                header
                    .iter()
                    .cloned()
                    .zip(l.split('|').map(|v| Some(v.trim().to_string())))
                    .collect()
            })
            .collect()
    }

    // As PgBouncer 1.18 prints them (psql -c 'SHOW POOLS' against the console).
    const POOLS_118: &str = "
        database | user | cl_active | cl_waiting | cl_active_cancel_req | cl_waiting_cancel_req | sv_active | sv_active_cancel | sv_being_canceled | sv_idle | sv_used | sv_tested | sv_login | maxwait | maxwait_us | pool_mode
        pgbouncer | pgbouncer | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | statement
        app | postgres | 3 | 5 | 0 | 0 | 3 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 250000 | transaction
    ";

    const STATS_118: &str = "
        database | total_xact_count | total_query_count | total_received | total_sent | total_xact_time | total_query_time | total_wait_time | avg_xact_count | avg_query_count | avg_recv | avg_sent | avg_xact_time | avg_query_time | avg_wait_time
        pgbouncer | 2 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0
        app | 100 | 200 | 14 | 108 | 5000000 | 4000000 | 100000 | 0 | 0 | 6 | 52 | 4330 | 4330 | 3796
    ";

    #[test]
    fn pools_skip_the_console_and_add_up_the_wait() {
        let p = parse_pools(&records(POOLS_118));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].database, "app");
        assert_eq!((p[0].cl_active, p[0].cl_waiting, p[0].sv_active), (3, 5, 3));
        assert_eq!(p[0].maxwait_us, 1_250_000);
        assert_eq!(p[0].pool_mode.as_deref(), Some("transaction"));
        // An older PgBouncer without maxwait_us still parses.
        let old = records(
            "database | user | cl_active | cl_waiting | sv_active | maxwait\napp | u | 1 | 0 | 1 | 2",
        );
        assert_eq!(parse_pools(&old)[0].maxwait_us, 2_000_000);
    }

    #[test]
    fn stats_delta_gives_littles_law_at_the_pooler() {
        let before = parse_stats(&records(STATS_118));
        let mut after = before.clone();
        // 400 more transactions of 15 ms in 2 s: λ = 200/s, W = 15 ms, L = 3.
        after[0].xact_count += 400;
        after[0].query_count += 800;
        after[0].xact_time_us += 6_000_000;
        after[0].query_time_us += 5_000_000;
        after[0].wait_time_us += 400_000;
        let t = throughput(&before, &after, 2.0, None).unwrap();
        assert_eq!(t.transactions, 400);
        assert_eq!(t.transactions_per_s, 200.0);
        assert_eq!(t.mean_transaction_time_ms, 15.0);
        assert_eq!(t.mean_wait_per_transaction_ms, 1.0);
        assert_eq!(t.concurrency, 3.0);
        assert_eq!(t.waiting, 0.2);
        assert_eq!(t.queries, 800);
        // Out of scope: nothing.
        assert_eq!(
            throughput(&before, &after, 2.0, Some("other"))
                .unwrap()
                .transactions,
            0
        );
        // A restart (counters went down) counts from zero.
        let restarted = vec![StatsRow {
            database: "app".into(),
            xact_count: 10,
            xact_time_us: 1_000_000,
            ..StatsRow::default()
        }];
        assert_eq!(
            throughput(&before, &restarted, 1.0, None)
                .unwrap()
                .transactions,
            10
        );
    }

    #[test]
    fn saturation_needs_a_full_pool_and_waiting_clients() {
        let rows = parse_pools(&records(POOLS_118));
        let databases = parse_databases(&records(
            "name | host | port | database | force_user | pool_size | min_pool_size | reserve_pool | pool_mode | max_connections | current_connections | paused | disabled
             pgbouncer | | 6432 | pgbouncer | pgbouncer | 2 | 0 | 0 | statement | 0 | 0 | 0 | 0
             app | 127.0.0.1 | 5432 | app | | 3 | 0 | 0 | | 0 | 3 | 0 | 0",
        ));
        assert_eq!(databases.len(), 1);
        assert_eq!(databases[0].pool_mode, None);
        let mut acc = PoolsAccumulator::new(None);
        acc.add(&rows);
        acc.add(&rows);
        let mut calm = rows.clone();
        calm[0].cl_waiting = 0;
        calm[0].sv_active = 1;
        acc.add(&calm);
        assert_eq!(acc.clients().max, 8);
        assert_eq!(acc.clients().p50, 8);
        let stats = acc.finish(&databases, &Settings::default());
        let s = &stats[0];
        assert_eq!(s.pool_size, Some(3));
        assert_eq!(s.sv_active.p95, 3);
        assert_eq!(s.cl_waiting.max, 5);
        assert_eq!(s.waiting_share, 0.6667);
        assert_eq!(s.max_wait_ms, 1250.0);
        assert!(s.saturated());
        let mut idle = s.clone();
        idle.cl_waiting = Distribution::of(&[0, 0]);
        assert!(!idle.saturated());
    }

    #[test]
    fn config_reads_the_sizing_settings() {
        let s = parse_config(&records(
            "key | value | default | changeable
             default_pool_size | 20 | 20 | yes
             max_client_conn | 500 | 100 | yes
             pool_mode | transaction | session | yes
             reserve_pool_size | 0 | 0 | yes",
        ));
        assert_eq!(s.default_pool_size, Some(20));
        assert_eq!(s.max_client_conn, Some(500));
        assert_eq!(s.pool_mode.as_deref(), Some("transaction"));
        assert_eq!(s.max_db_connections, None);
    }
}
