//! The I/O loop: one connection samples `pg_stat_activity` (and, with
//! `--pgbouncer`, PgBouncer's `SHOW POOLS`) every `--interval` for
//! `--duration`, feeding the pure accumulators in `stats` and
//! `pgbouncer`. The sampling query is prepared once and leaves out its own
//! backend (`pid <> pg_backend_pid()`). When a sample takes longer than
//! the interval, ticks are skipped rather than bunched, so samples stay
//! evenly spread; Ctrl-C ends the window early and keeps what was sampled.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::time::MissedTickBehavior;

use super::pgbouncer::{Console, PoolsAccumulator};
use super::stats::{Accumulator, Backend};

const ACTIVITY_SQL: &str = include_str!("../../sql/pool_activity.sql");
const SETTINGS_SQL: &str = include_str!("../../sql/pool_settings.sql");
const CLOCK_SQL: &str = include_str!("../../sql/pool_clock.sql");
const OWN_BACKENDS_SQL: &str = include_str!("../../sql/pool_own_backends.sql");

/// Whether a pg_stat_statements text is one of `pool`'s own queries (they
/// start with the comment line `-- pgadvisor pool:`, which
/// pg_stat_statements keeps).
pub fn is_own_statement(query: &str) -> bool {
    [ACTIVITY_SQL, SETTINGS_SQL, CLOCK_SQL, OWN_BACKENDS_SQL]
        .iter()
        .any(|sql| {
            sql.lines()
                .next()
                .is_some_and(|first| query.starts_with(first))
        })
}

/// The server's connection limits and what this role may see.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServerSettings {
    pub server_version_num: i32,
    pub max_connections: i32,
    pub superuser_reserved_connections: i32,
    /// PostgreSQL 16+.
    pub reserved_connections: Option<i32>,
    pub max_worker_processes: i32,
    pub max_wal_senders: i32,
    pub autovacuum_max_workers: i32,
    pub idle_in_transaction_session_timeout: String,
    /// Whether the role sees every session's state (pg_read_all_stats).
    pub read_all_stats: bool,
    pub role: String,
}

pub async fn read_settings(
    client: &tokio_postgres::Client,
    target: &str,
) -> Result<ServerSettings> {
    let row = client
        .query_one(SETTINGS_SQL, &[])
        .await
        .with_context(|| format!("cannot read the connection settings of {target}"))?;
    Ok(ServerSettings {
        server_version_num: row.try_get("server_version_num")?,
        max_connections: row.try_get("max_connections")?,
        superuser_reserved_connections: row.try_get("superuser_reserved_connections")?,
        reserved_connections: row.try_get("reserved_connections")?,
        max_worker_processes: row.try_get("max_worker_processes")?,
        max_wal_senders: row.try_get("max_wal_senders")?,
        autovacuum_max_workers: row.try_get("autovacuum_max_workers")?,
        idle_in_transaction_session_timeout: row.try_get("idle_in_transaction_session_timeout")?,
        read_all_stats: row.try_get("read_all_stats")?,
        role: row.try_get("role")?,
    })
}

/// The server's clock now (text), to pass to [`own_backends`] later.
pub async fn server_clock(client: &tokio_postgres::Client, target: &str) -> Result<String> {
    let row = client
        .query_one(CLOCK_SQL, &[])
        .await
        .with_context(|| format!("cannot read the clock of {target}"))?;
    Ok(row.try_get("now")?)
}

/// Backends with pgadvisor's `application_name` that started since
/// `since` (from [`server_clock`]): the connections this run opened for
/// its own reads. A closed connection's backend can outlive the client by
/// a few milliseconds; these pids are left out of every sample.
pub async fn own_backends(
    client: &tokio_postgres::Client,
    target: &str,
    application_name: &str,
    since: &str,
) -> Result<Vec<i32>> {
    let rows = client
        .query(OWN_BACKENDS_SQL, &[&application_name, &since])
        .await
        .with_context(|| format!("cannot list pgadvisor's own backends on {target}"))?;
    rows.iter()
        .map(|r| r.try_get::<_, i32>("pid").map_err(anyhow::Error::from))
        .collect()
}

/// How to sample.
#[derive(Debug, Clone)]
pub struct Plan {
    pub duration: Duration,
    pub interval: Duration,
    /// `--only-db`.
    pub scope_db: Option<String>,
    /// pgadvisor's own other backends (see [`own_backends`]).
    pub exclude_pids: Vec<i32>,
}

/// What the loop gathered.
pub struct Sampled {
    pub activity: Accumulator,
    pub pools: Option<PoolsAccumulator>,
    /// Wall time from the first sample to the end of the last.
    pub elapsed: Duration,
    /// Ctrl-C ended the window before `duration`.
    pub stopped_early: bool,
}

fn backend(row: &tokio_postgres::Row) -> Result<Backend, tokio_postgres::Error> {
    Ok(Backend {
        pid: row.try_get("pid")?,
        backend_type: row.try_get("backend_type")?,
        state: row.try_get("state")?,
        application_name: row.try_get("application_name")?,
        user: row.try_get("usename")?,
        database: row.try_get("datname")?,
        client_addr: row.try_get("client_addr")?,
        wait_event_type: row.try_get("wait_event_type")?,
        wait_event: row.try_get("wait_event")?,
        state_age_s: row.try_get("state_age_s")?,
        xact_age_s: row.try_get("xact_age_s")?,
        query: row.try_get("query")?,
    })
}

/// Sample until `plan.duration` has passed (or Ctrl-C). `on_tick` hears
/// the elapsed time and the samples taken after each one.
pub async fn sample(
    client: &tokio_postgres::Client,
    target: &str,
    console: Option<&Console>,
    plan: &Plan,
    mut on_tick: impl FnMut(Duration, usize),
) -> Result<Sampled> {
    let statement = client
        .prepare(ACTIVITY_SQL)
        .await
        .with_context(|| format!("cannot prepare the pg_stat_activity sample on {target}"))?;
    // A sample that hangs (a stuck server) must not hang the command.
    let limit = (plan.interval * 20).max(Duration::from_secs(10));
    let mut activity = Accumulator::new(plan.scope_db.clone());
    let mut pools = console.map(|_| PoolsAccumulator::new(plan.scope_db.clone()));
    let mut ticks = tokio::time::interval(plan.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let exclude: &(dyn tokio_postgres::types::ToSql + Sync) = &plan.exclude_pids;
    let params = &[exclude][..];
    let start = Instant::now();
    let mut stopped_early = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut ctrl_c => {
                stopped_early = true;
                break;
            }
        }
        if start.elapsed() >= plan.duration && activity.samples() > 0 {
            break;
        }
        let pg = tokio::time::timeout(limit, client.query(&statement, params));
        let (rows, pool_rows) = match console {
            Some(c) => {
                let (rows, pool_rows) = tokio::join!(pg, tokio::time::timeout(limit, c.pools()));
                let pool_rows = match pool_rows {
                    Ok(r) => Some(r?),
                    Err(_) => bail!(
                        "PgBouncer at {} did not answer SHOW POOLS within {}",
                        c.display,
                        humantime::format_duration(limit)
                    ),
                };
                (rows, pool_rows)
            }
            None => (pg.await, None),
        };
        let rows = match rows {
            Ok(r) => r.with_context(|| format!("cannot sample pg_stat_activity on {target}"))?,
            Err(_) => bail!(
                "{target} did not answer the pg_stat_activity sample within {}: the server is \
                 overloaded or stuck; try a longer --interval",
                humantime::format_duration(limit)
            ),
        };
        let backends = rows
            .iter()
            .map(backend)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("unexpected pg_stat_activity row from {target}"))?;
        activity.add(&backends);
        if let (Some(acc), Some(rows)) = (pools.as_mut(), pool_rows) {
            acc.add(&rows);
        }
        on_tick(start.elapsed(), activity.samples());
    }
    Ok(Sampled {
        activity,
        pools,
        elapsed: start.elapsed(),
        stopped_early,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_statements_are_recognized() {
        assert!(is_own_statement(ACTIVITY_SQL));
        assert!(is_own_statement(SETTINGS_SQL));
        assert!(is_own_statement(CLOCK_SQL));
        assert!(is_own_statement(OWN_BACKENDS_SQL));
        assert!(!is_own_statement("SELECT pg_sleep(0.05)"));
        assert!(ACTIVITY_SQL.starts_with("-- pgadvisor pool:"));
    }
}
