//! The `pool --format json` document (docs/pool.md), assembled from the
//! measurements with no I/O: distributions, limits, throughput, the
//! proposal, warnings and the snippets that carry the proposal's numbers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::host::Cpus;
use super::pgbouncer::{self, DatabaseRow, PoolStats};
use super::sampler::ServerSettings;
use super::sizing::{self, AppInput, Inputs, Proposal};
use super::snippets;
use super::stats::{
    Activity, Distribution, GroupStats, IdleTxSession, OtherBackends, Throughput, WaitEventShare,
    round,
};
use super::warnings::{self, Warning};

/// The JSON document's layout version.
pub const VERSION: u32 = 1;

/// `--instances`: a default for every application and per-application overrides.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instances {
    pub default: u32,
    pub per_app: BTreeMap<String, u32>,
}

impl Instances {
    pub fn for_app(&self, app: &str) -> u32 {
        self.per_app
            .get(app)
            .copied()
            .unwrap_or(self.default)
            .max(1)
    }
}

/// Everything measured, as the command gathered it.
pub struct Measured {
    pub target: String,
    pub scope_database: Option<String>,
    pub duration_s: f64,
    pub elapsed_s: f64,
    pub interval_ms: f64,
    pub stopped_early: bool,
    pub settings: ServerSettings,
    pub cpus: Option<Cpus>,
    pub effective_spindles: u32,
    pub instances: Instances,
    pub idle_tx_threshold_s: f64,
    pub activity: Activity,
    pub throughput: Option<Throughput>,
    pub pgbouncer: Option<PgBouncerMeasured>,
    pub notes: Vec<String>,
}

pub struct PgBouncerMeasured {
    pub console: String,
    /// Clients at the pooler per sample (cl_active + cl_waiting).
    pub clients: Distribution,
    pub settings: pgbouncer::Settings,
    pub databases: Vec<DatabaseRow>,
    pub pools: Vec<PoolStats>,
    pub throughput: Option<pgbouncer::Throughput>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub target: String,
    /// The database the distributions are limited to (`--only-db`), or null for the server.
    pub scope_database: Option<String>,
    pub window: Window,
    pub limits: Limits,
    pub cpus: Option<Cpus>,
    /// Client connections in scope running a statement, per sample.
    pub active: Distribution,
    /// Active or idle in a transaction (checked out of a pool), per sample.
    pub busy: Distribution,
    /// Client connections in scope, per sample.
    pub connections: Distribution,
    pub states: States,
    pub wait_events: Vec<WaitEventShare>,
    pub applications: Vec<GroupStats>,
    pub idle_in_transaction: IdleInTransaction,
    pub throughput: Option<Throughput>,
    pub pgbouncer: Option<PgBouncerReport>,
    pub proposal: Proposal,
    pub snippets: Snippets,
    pub warnings: Vec<Warning>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Window {
    pub duration_s: f64,
    pub elapsed_s: f64,
    pub interval_ms: f64,
    pub samples: usize,
    pub stopped_early: bool,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub server_version_num: i32,
    pub max_connections: i32,
    pub superuser_reserved_connections: i32,
    pub reserved_connections: Option<i32>,
    /// Slots ordinary roles may use.
    pub usable: u32,
    pub max_worker_processes: i32,
    pub max_wal_senders: i32,
    pub autovacuum_max_workers: i32,
    pub idle_in_transaction_session_timeout: String,
    /// Client connections server-wide (whatever the scope), per sample.
    pub client_connections: Distribution,
    pub client_connections_now: u32,
    /// Every backend at the last sample (client connections and the others), but pgadvisor's.
    pub backends_now: u32,
    /// Replication, background workers, autovacuum…: not counted against max_connections.
    pub other_backends: Vec<OtherBackends>,
}

#[derive(Debug, Serialize)]
pub struct States {
    pub idle: Distribution,
    pub idle_in_transaction: Distribution,
    pub waiting_lock: Distribution,
    pub waiting_other: Distribution,
    /// Sessions whose state this role may not see.
    pub hidden: Distribution,
}

#[derive(Debug, Serialize)]
pub struct IdleInTransaction {
    pub threshold_s: f64,
    /// The longest idle-in-transaction time seen (any session).
    pub longest_s: f64,
    /// Sessions idle in a transaction at least `threshold_s`, longest first.
    pub sessions: Vec<IdleTxSession>,
}

#[derive(Debug, Serialize)]
pub struct PgBouncerReport {
    pub console: String,
    /// Clients at the pooler per sample (cl_active + cl_waiting over the pools in scope).
    pub clients: Distribution,
    pub settings: pgbouncer::Settings,
    pub databases: Vec<DatabaseRow>,
    pub pools: Vec<PoolStats>,
    pub throughput: Option<pgbouncer::Throughput>,
}

#[derive(Debug, Serialize)]
pub struct AppSnippetSet {
    pub application_name: String,
    pub user: String,
    pub database: String,
    #[serde(flatten)]
    pub snippets: snippets::AppSnippets,
}

#[derive(Debug, Serialize)]
pub struct Snippets {
    pub applications: Vec<AppSnippetSet>,
    /// The `[pgbouncer]` section for `proposal.pgbouncer`.
    pub pgbouncer: String,
}

fn u(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// Build the report: proposal, warnings and snippets from the measurements.
pub fn build(m: Measured) -> Report {
    let a = &m.activity;
    let apps: Vec<AppInput> = a
        .groups
        .iter()
        .map(|g| AppInput {
            key: g.key.clone(),
            instances: m.instances.for_app(&g.key.application_name),
            busy_p95: g.busy.p95,
            busy_max: g.busy.max,
        })
        .collect();
    let proposal = sizing::propose(&Inputs {
        cores: m.cpus.as_ref().map(|c| c.count),
        effective_spindles: m.effective_spindles,
        busy_p95: a.busy.p95,
        littles_pgss: m.throughput.as_ref().map(|t| t.concurrency),
        littles_pgbouncer: m
            .pgbouncer
            .as_ref()
            .and_then(|p| p.throughput.as_ref())
            .map(|t| t.concurrency),
        max_connections: u(m.settings.max_connections),
        superuser_reserved_connections: u(m.settings.superuser_reserved_connections),
        reserved_connections: m.settings.reserved_connections.map(u).unwrap_or(0),
        // Behind PgBouncer the server sees its pool; the clients are at the pooler.
        connections_max: a
            .connections
            .max
            .max(m.pgbouncer.as_ref().map(|p| p.clients.max).unwrap_or(0)),
        apps,
    });
    let pools: &[PoolStats] = m.pgbouncer.as_ref().map(|p| &p.pools[..]).unwrap_or(&[]);
    let warnings = warnings::check(&warnings::Context {
        activity: a,
        proposal: &proposal,
        pgbouncer_pools: pools,
        max_connections: u(m.settings.max_connections),
        idle_tx_threshold_s: m.idle_tx_threshold_s,
        idle_tx_timeout_setting: &m.settings.idle_in_transaction_session_timeout,
    });
    let snippets = Snippets {
        applications: proposal
            .applications
            .iter()
            .map(|p| AppSnippetSet {
                application_name: p.key.application_name.clone(),
                user: p.key.user.clone(),
                database: p.key.database.clone(),
                snippets: snippets::for_app(p),
            })
            .collect(),
        pgbouncer: snippets::pgbouncer(&proposal.pgbouncer, &proposal),
    };
    let mut notes = m.notes;
    if m.cpus.is_none() {
        notes.push(
            "the database host's cores are unknown (the server is not on this host): the \
             proposal follows the measured demand only, with no server limit. Pass --cpus N \
             (the server's physical cores) for the cores × 2 + effective_spindles limit."
                .into(),
        );
    }
    if a.hidden.max > 0 {
        notes.push(format!(
            "up to {} sessions showed no state to role {}: their activity is not counted. Grant \
             it the statistics of every role (GRANT pg_read_all_stats TO {};) or run as a role \
             that has them.",
            a.hidden.max,
            m.settings.role,
            crate::ident::quote_ident(&m.settings.role)
        ));
    }
    if m.stopped_early {
        notes.push(format!(
            "interrupted: the window covers {:.1} s of the {:.1} s asked for",
            m.elapsed_s, m.duration_s
        ));
    }
    let longest_s = a
        .idle_in_transaction
        .first()
        .map(|s| s.idle_s)
        .unwrap_or(0.0);
    let sessions = a
        .idle_in_transaction
        .iter()
        .filter(|s| s.idle_s >= m.idle_tx_threshold_s)
        .cloned()
        .collect();
    let usable = proposal.usable_connections.value;
    Report {
        version: VERSION,
        target: m.target,
        scope_database: m.scope_database,
        window: Window {
            duration_s: round(m.duration_s, 3),
            elapsed_s: round(m.elapsed_s, 3),
            interval_ms: round(m.interval_ms, 1),
            samples: a.samples,
            stopped_early: m.stopped_early,
        },
        limits: Limits {
            server_version_num: m.settings.server_version_num,
            max_connections: m.settings.max_connections,
            superuser_reserved_connections: m.settings.superuser_reserved_connections,
            reserved_connections: m.settings.reserved_connections,
            usable,
            max_worker_processes: m.settings.max_worker_processes,
            max_wal_senders: m.settings.max_wal_senders,
            autovacuum_max_workers: m.settings.autovacuum_max_workers,
            idle_in_transaction_session_timeout: m
                .settings
                .idle_in_transaction_session_timeout
                .clone(),
            client_connections: a.server.clients.clone(),
            client_connections_now: a.server.clients_last,
            backends_now: a.server.clients_last
                + a.server.other_backends.iter().map(|o| o.last).sum::<u32>(),
            other_backends: a.server.other_backends.clone(),
        },
        cpus: m.cpus,
        active: a.active.clone(),
        busy: a.busy.clone(),
        connections: a.connections.clone(),
        states: States {
            idle: a.idle.clone(),
            idle_in_transaction: a.idle_in_transaction_count.clone(),
            waiting_lock: a.waiting_lock.clone(),
            waiting_other: a.waiting_other.clone(),
            hidden: a.hidden.clone(),
        },
        wait_events: a.wait_events.clone(),
        applications: a.groups.clone(),
        idle_in_transaction: IdleInTransaction {
            threshold_s: m.idle_tx_threshold_s,
            longest_s,
            sessions,
        },
        throughput: m.throughput,
        pgbouncer: m.pgbouncer.map(|p| PgBouncerReport {
            console: p.console,
            clients: p.clients,
            settings: p.settings,
            databases: p.databases,
            pools: p.pools,
            throughput: p.throughput,
        }),
        proposal,
        snippets,
        warnings,
        notes,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use crate::pool::stats::{Accumulator, Backend};

    fn settings() -> ServerSettings {
        ServerSettings {
            server_version_num: 150000,
            max_connections: 100,
            superuser_reserved_connections: 3,
            reserved_connections: None,
            max_worker_processes: 8,
            max_wal_senders: 10,
            autovacuum_max_workers: 3,
            idle_in_transaction_session_timeout: "0".into(),
            read_all_stats: true,
            role: "postgres".into(),
        }
    }

    fn measured(instances: Instances) -> Measured {
        let mut acc = Accumulator::new(None);
        for _ in 0..10 {
            let backends: Vec<Backend> = (1..=4)
                .map(|pid| Backend {
                    pid,
                    backend_type: "client backend".into(),
                    state: Some("active".into()),
                    application_name: "api".into(),
                    user: Some("app".into()),
                    database: Some("shop".into()),
                    ..Backend::default()
                })
                .collect();
            acc.add(&backends);
        }
        Measured {
            target: "postgres@db:5432/shop".into(),
            scope_database: None,
            duration_s: 1.0,
            elapsed_s: 1.0,
            interval_ms: 100.0,
            stopped_early: false,
            settings: settings(),
            cpus: Some(Cpus {
                count: 4,
                source: "flag".into(),
                detail: "--cpus 4".into(),
            }),
            effective_spindles: 1,
            instances,
            idle_tx_threshold_s: 5.0,
            activity: acc.finish(),
            throughput: None,
            pgbouncer: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn instances_split_the_application_pool() {
        let one = build(measured(Instances {
            default: 1,
            per_app: BTreeMap::new(),
        }));
        assert_eq!(one.active.p95, 4);
        assert_eq!(one.proposal.target_active.value, 4);
        assert_eq!(one.proposal.applications[0].pool_size, 4);
        let two = build(measured(Instances {
            default: 1,
            per_app: BTreeMap::from([("api".to_string(), 2)]),
        }));
        assert_eq!(two.proposal.applications[0].instances, 2);
        assert_eq!(two.proposal.applications[0].pool_size, 2);
        assert!(
            two.snippets.applications[0]
                .snippets
                .sqlalchemy
                .contains("pool_size=2")
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let r = build(measured(Instances {
            default: 1,
            per_app: BTreeMap::new(),
        }));
        let v = serde_json::to_value(&r).unwrap();
        for f in ["p50", "p95", "p99", "max", "mean", "histogram"] {
            assert!(v["active"].get(f).is_some(), "active.{f}");
        }
        assert_eq!(v["active"]["histogram"][0]["value"], 4);
        assert_eq!(v["proposal"]["target_active"]["value"], 4);
        assert_eq!(v["proposal"]["server_limit"]["expression"], "4 × 2 + 1 = 9");
        assert_eq!(v["proposal"]["applications"][0]["application_name"], "api");
        assert_eq!(v["snippets"]["applications"][0]["application_name"], "api");
        assert!(
            v["snippets"]["pgbouncer"]
                .as_str()
                .unwrap()
                .contains("[pgbouncer]")
        );
        assert_eq!(v["limits"]["usable"], 97);
        assert!(v["notes"].as_array().unwrap().is_empty());
    }
}
