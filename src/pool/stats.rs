//! What the samples say, with no I/O: percentiles of per-sample counts,
//! the accumulation of `pg_stat_activity` samples into distributions per
//! state and per application, and Little's-law throughput from a
//! pg_stat_statements delta. The sampler feeds [`Accumulator`] one sample
//! at a time, so memory grows with the number of samples, not with
//! samples × connections.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::intake::PgssRow;

/// One row of `pg_stat_activity` as the sampler reads it
/// (sql/pool_activity.sql), pgadvisor's own backend already left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backend {
    pub pid: i32,
    /// `client backend`, `walsender`, `autovacuum worker`, `background worker`, …
    pub backend_type: String,
    /// `active`, `idle`, `idle in transaction`, …; `None` when the role may
    /// not see other roles' sessions, and for most non-client backends.
    pub state: Option<String>,
    pub application_name: String,
    pub user: Option<String>,
    pub database: Option<String>,
    pub client_addr: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    /// Seconds since the state last changed.
    pub state_age_s: Option<f64>,
    /// Seconds since the transaction began.
    pub xact_age_s: Option<f64>,
    /// The last statement, only for sessions idle in a transaction.
    pub query: Option<String>,
}

/// How a client backend counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Idle,
    IdleInTransaction,
    /// `idle in transaction (aborted)`: holds the connection, does nothing.
    IdleInTransactionAborted,
    FastpathFunctionCall,
    /// `state` is NULL: another role's session this role may not inspect.
    Hidden,
    /// `disabled` (track_activities off) or a state this build does not know.
    Other,
}

impl State {
    pub fn of(state: Option<&str>) -> State {
        match state {
            None => State::Hidden,
            Some("active") => State::Active,
            Some("idle") => State::Idle,
            Some("idle in transaction") => State::IdleInTransaction,
            Some("idle in transaction (aborted)") => State::IdleInTransactionAborted,
            Some("fastpath function call") => State::FastpathFunctionCall,
            Some(_) => State::Other,
        }
    }

    /// Running a statement right now.
    pub fn is_active(self) -> bool {
        matches!(self, State::Active | State::FastpathFunctionCall)
    }

    /// Checked out of the application's pool: running a statement or
    /// holding a transaction open between statements.
    pub fn is_busy(self) -> bool {
        self.is_active() || self.is_idle_in_transaction()
    }

    pub fn is_idle_in_transaction(self) -> bool {
        matches!(
            self,
            State::IdleInTransaction | State::IdleInTransactionAborted
        )
    }
}

/// Whether a backend is a client connection (counts against `max_connections`).
pub fn is_client(b: &Backend) -> bool {
    b.backend_type == "client backend"
}

/// The value below which a share `q` (0..=1) of the samples fall, by the
/// nearest-rank method: the smallest sample such that at least
/// `q × n` samples are ≤ it. `sorted` must be in ascending order;
/// an empty slice gives 0.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// How many samples showed a given count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub value: u32,
    pub samples: usize,
}

/// The distribution of one per-sample count (e.g. concurrently active
/// connections) over the sampling window.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Distribution {
    pub p50: u32,
    pub p95: u32,
    pub p99: u32,
    pub max: u32,
    pub mean: f64,
    pub samples: usize,
    /// Samples per value, ascending; only for the headline `active`
    /// distribution (empty, and left out of JSON, elsewhere).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub histogram: Vec<Bucket>,
}

impl Distribution {
    pub fn of(values: &[u32]) -> Distribution {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let mean = if n == 0 {
            0.0
        } else {
            sorted.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64
        };
        Distribution {
            p50: percentile(&sorted, 0.50),
            p95: percentile(&sorted, 0.95),
            p99: percentile(&sorted, 0.99),
            max: sorted.last().copied().unwrap_or(0),
            mean: round(mean, 2),
            samples: n,
            histogram: Vec::new(),
        }
    }

    /// The distribution with its histogram.
    pub fn with_histogram(values: &[u32]) -> Distribution {
        let mut d = Distribution::of(values);
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for &v in values {
            *counts.entry(v).or_default() += 1;
        }
        d.histogram = counts
            .into_iter()
            .map(|(value, samples)| Bucket { value, samples })
            .collect();
        d
    }
}

pub fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// Connections are grouped the way pools are: per application, role and database.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKey {
    pub application_name: String,
    pub user: String,
    pub database: String,
}

impl GroupKey {
    fn of(b: &Backend) -> GroupKey {
        GroupKey {
            application_name: b.application_name.clone(),
            user: b.user.clone().unwrap_or_default(),
            database: b.database.clone().unwrap_or_default(),
        }
    }

    /// `app (user u, database d)`, with `(no application_name)` for an empty name.
    pub fn label(&self) -> String {
        format!(
            "{} (user {}, database {})",
            self.app_label(),
            self.user,
            self.database
        )
    }

    pub fn app_label(&self) -> &str {
        if self.application_name.is_empty() {
            "(no application_name)"
        } else {
            &self.application_name
        }
    }
}

/// Per-sample counts, padded with zeros for samples where a group was absent.
#[derive(Debug, Clone, Default)]
struct Series(Vec<u32>);

impl Series {
    fn bump(&mut self, sample: usize) {
        if self.0.len() <= sample {
            self.0.resize(sample + 1, 0);
        }
        self.0[sample] += 1;
    }

    fn finish(mut self, samples: usize) -> Vec<u32> {
        self.0.resize(samples, 0);
        self.0
    }
}

#[derive(Debug, Default)]
struct GroupAcc {
    connections: Series,
    active: Series,
    busy: Series,
    idle_in_transaction: Series,
    client_addrs: BTreeSet<String>,
}

/// A session seen idle in a transaction, at its longest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleTxSession {
    pub pid: i32,
    pub application_name: String,
    pub user: String,
    pub database: String,
    /// Longest time seen in the idle-in-transaction state.
    pub idle_s: f64,
    /// Age of the transaction at that moment.
    pub transaction_age_s: f64,
    /// Whether the transaction had failed (`idle in transaction (aborted)`).
    pub aborted: bool,
    /// Its last statement.
    pub query: String,
    /// Still idle in the transaction at the last sample.
    pub open_at_end: bool,
}

/// Accumulates `pg_stat_activity` samples. Counts in `scope` (one
/// database, or all) feed the distributions; counts against the server's
/// limits are always server-wide.
#[derive(Debug, Default)]
pub struct Accumulator {
    scope_db: Option<String>,
    samples: usize,
    // Server-wide.
    clients_all: Vec<u32>,
    others_max: BTreeMap<String, u32>,
    others_last: BTreeMap<String, u32>,
    // In scope.
    connections: Vec<u32>,
    active: Vec<u32>,
    busy: Vec<u32>,
    idle: Vec<u32>,
    idle_in_transaction: Vec<u32>,
    waiting_lock: Vec<u32>,
    waiting_other: Vec<u32>,
    hidden: Vec<u32>,
    active_backend_samples: u64,
    wait_events: HashMap<String, u64>,
    groups: BTreeMap<GroupKey, GroupAcc>,
    idle_tx: BTreeMap<i32, IdleTxSession>,
}

impl Accumulator {
    /// `scope_db`: count only this database's connections in the
    /// distributions (`--only-db`); `None` for the whole server.
    pub fn new(scope_db: Option<String>) -> Accumulator {
        Accumulator {
            scope_db,
            ..Accumulator::default()
        }
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Add one sample: every backend `pg_stat_activity` showed at one moment.
    pub fn add(&mut self, backends: &[Backend]) {
        let i = self.samples;
        self.samples += 1;
        let mut clients_all = 0u32;
        let mut others: BTreeMap<String, u32> = BTreeMap::new();
        let (mut conns, mut active, mut busy, mut idle, mut iit, mut lock, mut other, mut hidden) =
            (0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
        let mut open_idle_tx: BTreeSet<i32> = BTreeSet::new();
        for b in backends {
            if !is_client(b) {
                let kind = if b.backend_type.is_empty() {
                    "unknown".to_string()
                } else {
                    b.backend_type.clone()
                };
                *others.entry(kind).or_default() += 1;
                continue;
            }
            clients_all += 1;
            if self
                .scope_db
                .as_deref()
                .is_some_and(|db| b.database.as_deref() != Some(db))
            {
                continue;
            }
            let state = State::of(b.state.as_deref());
            conns += 1;
            let group = self.groups.entry(GroupKey::of(b)).or_default();
            group.connections.bump(i);
            if let Some(addr) = &b.client_addr {
                group.client_addrs.insert(addr.clone());
            }
            match state {
                State::Hidden => hidden += 1,
                State::Idle => idle += 1,
                _ => {}
            }
            if state.is_busy() {
                busy += 1;
                group.busy.bump(i);
            }
            if state.is_active() {
                active += 1;
                group.active.bump(i);
                self.active_backend_samples += 1;
                match b.wait_event_type.as_deref() {
                    None => {}
                    Some(t) => {
                        if t == "Lock" {
                            lock += 1;
                        } else {
                            other += 1;
                        }
                        let name = match b.wait_event.as_deref() {
                            Some(e) => format!("{t}:{e}"),
                            None => t.to_string(),
                        };
                        *self.wait_events.entry(name).or_default() += 1;
                    }
                }
            }
            if state.is_idle_in_transaction() {
                iit += 1;
                group.idle_in_transaction.bump(i);
                open_idle_tx.insert(b.pid);
                let idle_s = b.state_age_s.unwrap_or(0.0).max(0.0);
                let entry = self.idle_tx.entry(b.pid).or_insert_with(|| IdleTxSession {
                    pid: b.pid,
                    application_name: b.application_name.clone(),
                    user: b.user.clone().unwrap_or_default(),
                    database: b.database.clone().unwrap_or_default(),
                    idle_s: -1.0,
                    transaction_age_s: 0.0,
                    aborted: false,
                    query: String::new(),
                    open_at_end: false,
                });
                if idle_s >= entry.idle_s {
                    entry.idle_s = round(idle_s, 3);
                    entry.transaction_age_s = round(b.xact_age_s.unwrap_or(idle_s).max(0.0), 3);
                    entry.aborted = state == State::IdleInTransactionAborted;
                    entry.query = b.query.clone().unwrap_or_default();
                    // A pid reused by a new session: keep the new identity.
                    entry.application_name = b.application_name.clone();
                    entry.user = b.user.clone().unwrap_or_default();
                    entry.database = b.database.clone().unwrap_or_default();
                }
            }
        }
        for s in self.idle_tx.values_mut() {
            s.open_at_end = open_idle_tx.contains(&s.pid);
        }
        for (kind, n) in &others {
            let m = self.others_max.entry(kind.clone()).or_default();
            *m = (*m).max(*n);
        }
        self.others_last = others;
        self.clients_all.push(clients_all);
        self.connections.push(conns);
        self.active.push(active);
        self.busy.push(busy);
        self.idle.push(idle);
        self.idle_in_transaction.push(iit);
        self.waiting_lock.push(lock);
        self.waiting_other.push(other);
        self.hidden.push(hidden);
    }

    pub fn finish(self) -> Activity {
        let samples = self.samples;
        let mut wait_events: Vec<WaitEventShare> = self
            .wait_events
            .into_iter()
            .map(|(event, n)| WaitEventShare {
                event,
                backend_samples: n,
                share_of_active: if self.active_backend_samples == 0 {
                    0.0
                } else {
                    round(n as f64 / self.active_backend_samples as f64, 4)
                },
            })
            .collect();
        wait_events.sort_by(|a, b| {
            b.backend_samples
                .cmp(&a.backend_samples)
                .then(a.event.cmp(&b.event))
        });
        let groups = self
            .groups
            .into_iter()
            .map(|(key, g)| GroupStats {
                client_hosts: g.client_addrs.len(),
                connections: Distribution::of(&g.connections.finish(samples)),
                active: Distribution::of(&g.active.finish(samples)),
                busy: Distribution::of(&g.busy.finish(samples)),
                idle_in_transaction: Distribution::of(&g.idle_in_transaction.finish(samples)),
                key,
            })
            .collect();
        let mut idle_in_transaction: Vec<IdleTxSession> = self.idle_tx.into_values().collect();
        idle_in_transaction.sort_by(|a, b| b.idle_s.total_cmp(&a.idle_s).then(a.pid.cmp(&b.pid)));
        Activity {
            samples,
            scope_database: self.scope_db,
            server: ServerConnections {
                clients: Distribution::of(&self.clients_all),
                clients_last: self.clients_all.last().copied().unwrap_or(0),
                other_backends: self
                    .others_max
                    .into_iter()
                    .map(|(backend_type, max)| OtherBackends {
                        last: self.others_last.get(&backend_type).copied().unwrap_or(0),
                        backend_type,
                        max,
                    })
                    .collect(),
            },
            connections: Distribution::of(&self.connections),
            active: Distribution::with_histogram(&self.active),
            busy: Distribution::of(&self.busy),
            idle: Distribution::of(&self.idle),
            idle_in_transaction_count: Distribution::of(&self.idle_in_transaction),
            waiting_lock: Distribution::of(&self.waiting_lock),
            waiting_other: Distribution::of(&self.waiting_other),
            hidden: Distribution::of(&self.hidden),
            wait_events,
            groups,
            idle_in_transaction,
        }
    }
}

/// Backends that are not client connections, by `backend_type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherBackends {
    pub backend_type: String,
    pub max: u32,
    pub last: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConnections {
    /// Client connections, server-wide, whatever the scope.
    pub clients: Distribution,
    pub clients_last: u32,
    pub other_backends: Vec<OtherBackends>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitEventShare {
    /// `type:event`, e.g. `Lock:transactionid`.
    pub event: String,
    /// Samples × active backends showing this wait.
    pub backend_samples: u64,
    /// Share of all active backend-samples.
    pub share_of_active: f64,
}

/// One (application, role, database) group over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    #[serde(flatten)]
    pub key: GroupKey,
    /// Distinct client addresses seen (a hint at the number of instances).
    pub client_hosts: usize,
    pub connections: Distribution,
    pub active: Distribution,
    pub busy: Distribution,
    pub idle_in_transaction: Distribution,
}

/// Everything the samples say.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub samples: usize,
    pub scope_database: Option<String>,
    pub server: ServerConnections,
    /// Client connections in scope.
    pub connections: Distribution,
    /// Running a statement.
    pub active: Distribution,
    /// Active or idle in a transaction (checked out of a pool).
    pub busy: Distribution,
    pub idle: Distribution,
    pub idle_in_transaction_count: Distribution,
    /// Active and waiting on a heavyweight lock.
    pub waiting_lock: Distribution,
    /// Active and waiting on another wait event (I/O, LWLock, client, timeout…).
    pub waiting_other: Distribution,
    /// Sessions whose state this role may not see.
    pub hidden: Distribution,
    pub wait_events: Vec<WaitEventShare>,
    pub groups: Vec<GroupStats>,
    /// Sessions seen idle in a transaction, longest first.
    pub idle_in_transaction: Vec<IdleTxSession>,
}

/// Statement throughput over the window from a pg_stat_statements delta,
/// and the concurrency it implies (Little's law, L = λ·W).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Throughput {
    pub window_s: f64,
    /// Statement entries with calls in the window.
    pub statements: usize,
    pub calls: i64,
    /// λ: calls per second.
    pub calls_per_s: f64,
    /// W: mean execution time per call (ms).
    pub mean_exec_time_ms: f64,
    /// Mean planning time per call (ms); 0 unless pg_stat_statements.track_planning is on.
    pub mean_plan_time_ms: f64,
    /// L = λ × W: statements executing at once, on average.
    pub concurrency: f64,
    pub by_database: Vec<DatabaseThroughput>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseThroughput {
    pub database: String,
    pub calls: i64,
    pub calls_per_s: f64,
    pub mean_exec_time_ms: f64,
    pub concurrency: f64,
}

/// Seconds between two server timestamps as pg_stat_statements reads
/// record them (`captured_at`, RFC 3339 in UTC): the window the counters'
/// delta really covers, free of the client's connection set-up time.
pub fn server_window_s(before: Option<&str>, after: Option<&str>) -> Option<f64> {
    let t0 = humantime::parse_rfc3339_weak(before?).ok()?;
    let t1 = humantime::parse_rfc3339_weak(after?).ok()?;
    let d = t1.duration_since(t0).ok()?.as_secs_f64();
    (d > 0.0).then_some(d)
}

/// Little's law over a window from the activity `rows` (a delta): λ =
/// calls / window, W = (execution + planning time) / calls, L = λ × W =
/// busy statement-time / window. Only top-level statements count (nested
/// ones run inside a top-level call's time); rows for which `exclude`
/// says yes (pgadvisor's own queries) and rows outside `scope_db` are left out.
pub fn throughput(
    rows: &[PgssRow],
    window_s: f64,
    scope_db: Option<&str>,
    exclude: impl Fn(&str) -> bool,
) -> Option<Throughput> {
    if window_s <= 0.0 || !window_s.is_finite() {
        return None;
    }
    let mut calls = 0i64;
    let mut exec = 0f64;
    let mut plan = 0f64;
    let mut statements = 0usize;
    let mut per_db: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for r in rows {
        if r.toplevel == Some(false) || r.stat.calls <= 0 || exclude(&r.stat.query) {
            continue;
        }
        let db = r.stat.database.clone().unwrap_or_default();
        if scope_db.is_some_and(|s| s != db) {
            continue;
        }
        statements += 1;
        calls += r.stat.calls;
        exec += r.stat.total_exec_time;
        plan += r.stat.total_plan_time;
        let e = per_db.entry(db).or_default();
        e.0 += r.stat.calls;
        e.1 += r.stat.total_exec_time + r.stat.total_plan_time;
    }
    let per_call = |total: f64, n: i64| if n > 0 { total / n as f64 } else { 0.0 };
    let mut by_database: Vec<DatabaseThroughput> = per_db
        .into_iter()
        .map(|(database, (c, t))| DatabaseThroughput {
            database,
            calls: c,
            calls_per_s: round(c as f64 / window_s, 2),
            mean_exec_time_ms: round(per_call(t, c), 3),
            concurrency: round(t / 1000.0 / window_s, 3),
        })
        .collect();
    by_database.sort_by(|a, b| b.concurrency.total_cmp(&a.concurrency));
    Some(Throughput {
        window_s: round(window_s, 3),
        statements,
        calls,
        calls_per_s: round(calls as f64 / window_s, 2),
        mean_exec_time_ms: round(per_call(exec, calls), 3),
        mean_plan_time_ms: round(per_call(plan, calls), 3),
        concurrency: round((exec + plan) / 1000.0 / window_s, 3),
        by_database,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use crate::intake::StatementStat;

    fn client(pid: i32, app: &str, state: &str) -> Backend {
        Backend {
            pid,
            backend_type: "client backend".into(),
            state: Some(state.into()),
            application_name: app.into(),
            user: Some("u".into()),
            database: Some("app".into()),
            client_addr: Some("10.0.0.1".into()),
            ..Backend::default()
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.95), 95);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.01), 7);
        // 20 samples: p95 is the 19th value, p99 the 20th.
        let mut w = vec![2u32; 18];
        w.extend([5, 9]);
        let d = Distribution::of(&w);
        assert_eq!((d.p50, d.p95, d.p99, d.max), (2, 5, 9, 9));
        assert_eq!(d.mean, 2.5);
    }

    #[test]
    fn histogram_counts_samples_per_value() {
        let d = Distribution::with_histogram(&[1, 2, 2, 0, 2]);
        assert_eq!(
            d.histogram,
            vec![
                Bucket {
                    value: 0,
                    samples: 1
                },
                Bucket {
                    value: 1,
                    samples: 1
                },
                Bucket {
                    value: 2,
                    samples: 3
                }
            ]
        );
        assert!(Distribution::of(&[1]).histogram.is_empty());
    }

    #[test]
    fn states_count_by_kind() {
        let mut acc = Accumulator::new(None);
        let mut waiting = client(3, "api", "active");
        waiting.wait_event_type = Some("Lock".into());
        waiting.wait_event = Some("transactionid".into());
        let mut sleeping = client(4, "api", "active");
        sleeping.wait_event_type = Some("Timeout".into());
        sleeping.wait_event = Some("PgSleep".into());
        let mut iit = client(5, "worker", "idle in transaction");
        iit.state_age_s = Some(12.5);
        iit.xact_age_s = Some(13.0);
        iit.query = Some("SELECT 1".into());
        let walsender = Backend {
            pid: 9,
            backend_type: "walsender".into(),
            ..Backend::default()
        };
        acc.add(&[
            client(1, "api", "active"),
            client(2, "api", "idle"),
            waiting,
            sleeping,
            iit,
            walsender,
        ]);
        acc.add(&[client(1, "api", "idle"), client(2, "api", "idle")]);
        let a = acc.finish();
        assert_eq!(a.samples, 2);
        assert_eq!(a.active.max, 3);
        assert_eq!(a.active.p50, 0);
        assert_eq!(a.busy.max, 4);
        assert_eq!(a.waiting_lock.max, 1);
        assert_eq!(a.waiting_other.max, 1);
        assert_eq!(a.idle.max, 2);
        assert_eq!(a.connections.max, 5);
        assert_eq!(a.server.clients.max, 5);
        assert_eq!(a.server.clients_last, 2);
        assert_eq!(a.server.other_backends[0].backend_type, "walsender");
        assert_eq!(a.server.other_backends[0].max, 1);
        assert_eq!(a.server.other_backends[0].last, 0);
        assert_eq!(a.wait_events.len(), 2);
        assert_eq!(a.wait_events[0].share_of_active, 0.3333);
        let api = &a.groups[0];
        assert_eq!(api.key.application_name, "api");
        assert_eq!(api.connections.max, 4);
        assert_eq!(api.active.max, 3);
        assert_eq!(api.client_hosts, 1);
        let worker = &a.groups[1];
        assert_eq!(worker.busy.max, 1);
        assert_eq!(
            worker.busy.p50, 0,
            "absent in the second sample counts as 0"
        );
        let s = &a.idle_in_transaction[0];
        assert_eq!((s.pid, s.idle_s, s.transaction_age_s), (5, 12.5, 13.0));
        assert_eq!(s.query, "SELECT 1");
        assert!(!s.open_at_end);
    }

    #[test]
    fn idle_in_transaction_keeps_the_longest_and_whether_still_open() {
        let mut acc = Accumulator::new(None);
        let at = |age: f64| {
            let mut b = client(7, "batch", "idle in transaction");
            b.state_age_s = Some(age);
            b.xact_age_s = Some(age + 1.0);
            b
        };
        acc.add(&[at(1.0)]);
        acc.add(&[at(2.0)]);
        acc.add(&[at(3.0)]);
        let a = acc.finish();
        assert_eq!(a.idle_in_transaction.len(), 1);
        assert_eq!(a.idle_in_transaction[0].idle_s, 3.0);
        assert!(a.idle_in_transaction[0].open_at_end);
    }

    #[test]
    fn scope_limits_distributions_not_server_counts() {
        let mut acc = Accumulator::new(Some("app".into()));
        let mut elsewhere = client(2, "other", "active");
        elsewhere.database = Some("reporting".into());
        acc.add(&[client(1, "api", "active"), elsewhere]);
        let a = acc.finish();
        assert_eq!(a.active.max, 1);
        assert_eq!(a.server.clients.max, 2);
        assert_eq!(a.groups.len(), 1);
        assert_eq!(a.scope_database.as_deref(), Some("app"));
    }

    #[test]
    fn hidden_sessions_are_counted_apart() {
        let mut acc = Accumulator::new(None);
        let mut b = client(1, "", "x");
        b.state = None;
        acc.add(&[b]);
        let a = acc.finish();
        assert_eq!(a.hidden.max, 1);
        assert_eq!(a.active.max, 0);
        assert_eq!(a.groups[0].key.app_label(), "(no application_name)");
    }

    fn pgss(db: &str, query: &str, calls: i64, exec: f64, toplevel: Option<bool>) -> PgssRow {
        PgssRow {
            userid: Some(10),
            dbid: Some(1),
            toplevel,
            stats_since: None,
            stat: StatementStat {
                queryid: Some(1),
                database: Some(db.into()),
                query: query.into(),
                calls,
                total_exec_time: exec,
                ..StatementStat::default()
            },
        }
    }

    #[test]
    fn window_from_server_timestamps() {
        let w = server_window_s(
            Some("2026-11-22T01:00:00.250000Z"),
            Some("2026-11-22T01:00:05.000000Z"),
        );
        assert_eq!(w, Some(4.75));
        assert_eq!(server_window_s(None, Some("2026-11-22T01:00:05Z")), None);
        assert_eq!(
            server_window_s(Some("garbage"), Some("2026-11-22T01:00:05Z")),
            None
        );
        // Backwards (clock change): no window.
        assert_eq!(
            server_window_s(Some("2026-11-22T01:00:05Z"), Some("2026-11-22T01:00:00Z")),
            None
        );
    }

    #[test]
    fn littles_law_from_a_delta() {
        // 500 calls of 40 ms in 10 s: λ = 50/s, W = 40 ms, L = 2.
        let rows = vec![
            pgss("app", "SELECT a", 400, 16_000.0, Some(true)),
            pgss("app", "SELECT b", 100, 4_000.0, None),
            // Nested statement: its time is inside a top-level call.
            pgss("app", "SELECT nested", 1000, 9_000.0, Some(false)),
            // pgadvisor's own sampling query.
            pgss("app", "-- pgadvisor pool: x", 100, 50.0, Some(true)),
            pgss("other", "SELECT c", 10, 10_000.0, Some(true)),
        ];
        let own = |q: &str| q.starts_with("-- pgadvisor");
        let t = throughput(&rows, 10.0, Some("app"), own).unwrap();
        assert_eq!(t.calls, 500);
        assert_eq!(t.calls_per_s, 50.0);
        assert_eq!(t.mean_exec_time_ms, 40.0);
        assert_eq!(t.concurrency, 2.0);
        assert_eq!(t.statements, 2);
        let all = throughput(&rows, 10.0, None, own).unwrap();
        assert_eq!(all.concurrency, 3.0);
        assert_eq!(all.by_database[0].database, "app");
        assert_eq!(all.by_database[1].concurrency, 1.0);
        assert!(throughput(&rows, 0.0, None, own).is_none());
    }
}
