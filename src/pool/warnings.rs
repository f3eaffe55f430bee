//! Findings from the window, each with its evidence (the measured numbers)
//! and what to do. Stable kebab-case ids (docs/pool.md lists them):
//!
//! - `idle-in-transaction`: a session sat idle in an open transaction at
//!   least `--idle-tx-threshold`.
//! - `pool-saturation`: an application had every connection it held
//!   active at p95 (its pool is full; requests queue in the application),
//!   or a PgBouncer pool had all its server connections active at p95
//!   while clients waited.
//! - `demand-exceeds-cores`: more connections were busy (or Little's law
//!   needs more) than the cores run well.
//! - `lock-waits`: active connections waited on heavyweight locks in at
//!   least 5% of samples: more connections do not help them.
//! - `max-connections-high`: `max_connections` is more than ten times what
//!   the cores run well.
//! - `connections-near-limit`: client connections reached 80% of the
//!   slots ordinary roles may use.

use serde::Serialize;
use serde_json::{Value, json};

use super::pgbouncer::PoolStats;
use super::sizing::Proposal;
use super::stats::{Activity, round};

/// `max_connections` above this many times the server limit is "far above".
pub const MAX_CONNECTIONS_FACTOR: u32 = 10;
/// Client connections at this share of the usable slots are "near the limit".
pub const NEAR_LIMIT_SHARE: f64 = 0.8;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub id: &'static str,
    pub message: String,
    /// What to do about it.
    pub help: String,
    /// The measured numbers behind it.
    pub evidence: Value,
}

/// What the rules look at.
pub struct Context<'a> {
    pub activity: &'a Activity,
    pub proposal: &'a Proposal,
    pub pgbouncer_pools: &'a [PoolStats],
    pub max_connections: u32,
    pub idle_tx_threshold_s: f64,
    /// The server's `idle_in_transaction_session_timeout` as shown.
    pub idle_tx_timeout_setting: &'a str,
}

pub fn check(c: &Context<'_>) -> Vec<Warning> {
    let mut out = Vec::new();
    idle_in_transaction(c, &mut out);
    pool_saturation(c, &mut out);
    demand_exceeds_cores(c, &mut out);
    lock_waits(c, &mut out);
    max_connections_high(c, &mut out);
    connections_near_limit(c, &mut out);
    out
}

fn idle_in_transaction(c: &Context<'_>, out: &mut Vec<Warning>) {
    let timeout_off = matches!(c.idle_tx_timeout_setting, "0" | "0ms" | "0s" | "");
    for s in &c.activity.idle_in_transaction {
        if s.idle_s < c.idle_tx_threshold_s {
            continue;
        }
        out.push(Warning {
            id: "idle-in-transaction",
            message: format!(
                "pid {} ({} (user {}, database {})) sat idle in {}transaction for {:.1} s \
                 (transaction open {:.1} s){}; last statement: {}",
                s.pid,
                if s.application_name.is_empty() {
                    "(no application_name)"
                } else {
                    &s.application_name
                },
                s.user,
                s.database,
                if s.aborted { "a failed " } else { "a " },
                s.idle_s,
                s.transaction_age_s,
                if s.open_at_end {
                    ", still open at the end of the window"
                } else {
                    ""
                },
                crate::output::shorten(&s.query, 120)
            ),
            help: format!(
                "An open transaction holds its connection out of the pool, keeps its locks, \
                 and holds back vacuum (rows newer than it cannot be removed). Commit or roll \
                 back as soon as the work is done, and never wait on users or remote calls \
                 inside a transaction. {}",
                if timeout_off {
                    "idle_in_transaction_session_timeout is off on this server: set it (e.g. \
                     ALTER ROLE app SET idle_in_transaction_session_timeout = '60s') so the \
                     server ends such sessions."
                        .to_string()
                } else {
                    format!(
                        "The server ends such sessions after idle_in_transaction_session_timeout \
                         = {}.",
                        c.idle_tx_timeout_setting
                    )
                }
            ),
            evidence: json!({
                "pid": s.pid,
                "application_name": s.application_name,
                "user": s.user,
                "database": s.database,
                "idle_s": s.idle_s,
                "transaction_age_s": s.transaction_age_s,
                "aborted": s.aborted,
                "open_at_end": s.open_at_end,
                "threshold_s": c.idle_tx_threshold_s,
                "query": s.query,
            }),
        });
    }
}

fn pool_saturation(c: &Context<'_>, out: &mut Vec<Warning>) {
    for g in &c.activity.groups {
        let held = g.connections.max;
        if held == 0 || g.active.p95 < held {
            continue;
        }
        // Behind PgBouncer these are its server connections: its pool's
        // own finding below says where the requests wait.
        if c.pgbouncer_pools
            .iter()
            .any(|p| p.database == g.key.database && p.user == g.key.user)
        {
            continue;
        }
        out.push(Warning {
            id: "pool-saturation",
            message: format!(
                "{}: {} active at p95 (active p95 {} = connections max {held}); its pool is at \
                 its size, so further requests wait in the application",
                g.key.label(),
                if held == 1 {
                    "its only connection was".to_string()
                } else {
                    format!("all {held} connections it held were")
                },
                g.active.p95
            ),
            help: "Compare the proposed pool size for this application: when the server has \
                   spare cores, a larger pool (or overflow) lets the waiting requests run; when \
                   it has none, the queries need to get faster instead (pgadvisor top, advise)."
                .into(),
            evidence: json!({
                "application_name": g.key.application_name,
                "user": g.key.user,
                "database": g.key.database,
                "connections_max": held,
                "active": { "p50": g.active.p50, "p95": g.active.p95, "max": g.active.max },
            }),
        });
    }
    for p in c.pgbouncer_pools {
        if !p.saturated() {
            continue;
        }
        let size = p.pool_size.unwrap_or(0);
        out.push(Warning {
            id: "pool-saturation",
            message: format!(
                "PgBouncer pool {}/{}: all {size} server connections active at p95 (sv_active \
                 p95 {}) while clients waited in {:.0}% of samples (up to {} at once, longest \
                 wait {:.1} ms)",
                p.database,
                p.user,
                p.sv_active.p95,
                p.waiting_share * 100.0,
                p.cl_waiting.max,
                p.max_wait_ms
            ),
            help: "Clients queue in PgBouncer for a server connection. If the server has spare \
                   cores (see the proposal's spare), raise pool_size/default_pool_size toward the \
                   proposed default_pool_size; otherwise make the transactions shorter."
                .into(),
            evidence: json!({
                "database": p.database,
                "user": p.user,
                "pool_size": size,
                "sv_active": { "p50": p.sv_active.p50, "p95": p.sv_active.p95, "max": p.sv_active.max },
                "cl_waiting": { "p95": p.cl_waiting.p95, "max": p.cl_waiting.max },
                "waiting_share": p.waiting_share,
                "max_wait_ms": p.max_wait_ms,
            }),
        });
    }
}

fn demand_exceeds_cores(c: &Context<'_>, out: &mut Vec<Warning>) {
    let Some(limit) = &c.proposal.server_limit else {
        return;
    };
    let demand = &c.proposal.demand;
    if demand.value <= limit.value {
        return;
    }
    let a = c.activity;
    let waiting = a.waiting_lock.mean + a.waiting_other.mean;
    let waiting_share = if a.active.mean > 0.0 {
        round(waiting / a.active.mean, 4)
    } else {
        0.0
    };
    out.push(Warning {
        id: "demand-exceeds-cores",
        message: format!(
            "the workload needs {} connections at once ({}) but {} run well ({}): beyond \
             that, connections queue for CPU and I/O inside the server",
            demand.value, demand.expression, limit.value, limit.expression
        ),
        help: format!(
            "Cap the active connections at {} (the proposal's pool sizes, or PgBouncer's \
             default_pool_size) so requests queue in the pool, where waiting is cheap; then make \
             the queries faster or add cores. {:.0}% of active samples were waiting on an event \
             rather than running{}.",
            c.proposal.target_active.value,
            waiting_share * 100.0,
            if waiting_share > 0.5 {
                " (mostly waits: look at wait_events before adding cores)"
            } else {
                ""
            }
        ),
        evidence: json!({
            "demand": demand.value,
            "demand_inputs": demand.inputs,
            "server_limit": limit.value,
            "server_limit_inputs": limit.inputs,
            "active_waiting_share": waiting_share,
        }),
    });
}

fn lock_waits(c: &Context<'_>, out: &mut Vec<Warning>) {
    let w = &c.activity.waiting_lock;
    if w.p95 == 0 {
        return;
    }
    let locks: Vec<&str> = c
        .activity
        .wait_events
        .iter()
        .filter(|e| e.event.starts_with("Lock:"))
        .map(|e| e.event.as_str())
        .collect();
    out.push(Warning {
        id: "lock-waits",
        message: format!(
            "active connections waited on locks in at least 5% of samples (p95 {}, max {}; {})",
            w.p95,
            w.max,
            locks.join(", ")
        ),
        help: "Connections blocked on a lock do not use CPU, but more connections do not make \
               them faster: find the blockers (pg_blocking_pids) and shorten the transactions \
               that hold the locks."
            .into(),
        evidence: json!({
            "waiting_lock": { "p50": w.p50, "p95": w.p95, "max": w.max, "mean": w.mean },
            "lock_events": locks,
        }),
    });
}

fn max_connections_high(c: &Context<'_>, out: &mut Vec<Warning>) {
    let Some(limit) = &c.proposal.server_limit else {
        return;
    };
    let far = limit.value.saturating_mul(MAX_CONNECTIONS_FACTOR);
    if c.max_connections <= far {
        return;
    }
    let p = c.proposal;
    out.push(Warning {
        id: "max-connections-high",
        message: format!(
            "max_connections = {} is {:.0}× the {} active connections the host runs well ({}); \
             a burst or a connection storm can start that many backends on {} cores",
            c.max_connections,
            f64::from(c.max_connections) / f64::from(limit.value.max(1)),
            limit.value,
            limit.expression,
            limit.inputs.get("cores").copied().unwrap_or(0.0)
        ),
        help: format!(
            "Size max_connections for the clients you expect (the proposed pools total {} plus \
             the reserved slots and room for admin sessions), cap activity with the pools or \
             PgBouncer, and let the pools queue requests instead of the server.",
            p.total_connections
        ),
        evidence: json!({
            "max_connections": c.max_connections,
            "server_limit": limit.value,
            "factor": MAX_CONNECTIONS_FACTOR,
            "proposed_total": p.total_connections,
        }),
    });
}

fn connections_near_limit(c: &Context<'_>, out: &mut Vec<Warning>) {
    let usable = c.proposal.usable_connections.value;
    let seen = c.activity.server.clients.max;
    if usable == 0 || f64::from(seen) < NEAR_LIMIT_SHARE * f64::from(usable) {
        return;
    }
    out.push(Warning {
        id: "connections-near-limit",
        message: format!(
            "client connections reached {seen} of the {usable} slots ordinary roles may use \
             ({:.0}%; {})",
            100.0 * f64::from(seen) / f64::from(usable),
            c.proposal.usable_connections.expression
        ),
        help: "New connections fail with \"sorry, too many clients already\" at the limit. \
               Shrink the pools to the proposal, or put PgBouncer in front (see the proposed \
               layout); raising max_connections only moves the limit."
            .into(),
        evidence: json!({
            "client_connections_max": seen,
            "usable": usable,
            "share": round(f64::from(seen) / f64::from(usable), 4),
        }),
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use crate::pool::sizing::{AppInput, Inputs, propose};
    use crate::pool::stats::{Accumulator, Backend, GroupKey};

    fn client(pid: i32, app: &str, state: &str) -> Backend {
        Backend {
            pid,
            backend_type: "client backend".into(),
            state: Some(state.into()),
            application_name: app.into(),
            user: Some("u".into()),
            database: Some("app".into()),
            ..Backend::default()
        }
    }

    fn run(samples: &[Vec<Backend>], cores: u32, max_connections: u32) -> Vec<Warning> {
        let mut acc = Accumulator::new(None);
        for s in samples {
            acc.add(s);
        }
        let activity = acc.finish();
        let proposal = propose(&Inputs {
            cores: Some(cores),
            effective_spindles: 1,
            busy_p95: activity.busy.p95,
            littles_pgss: None,
            littles_pgbouncer: None,
            max_connections,
            superuser_reserved_connections: 3,
            reserved_connections: 0,
            connections_max: activity.connections.max,
            apps: activity
                .groups
                .iter()
                .map(|g| AppInput {
                    key: g.key.clone(),
                    instances: 1,
                    busy_p95: g.busy.p95,
                    busy_max: g.busy.max,
                })
                .collect(),
        });
        check(&Context {
            activity: &activity,
            proposal: &proposal,
            pgbouncer_pools: &[],
            max_connections,
            idle_tx_threshold_s: 5.0,
            idle_tx_timeout_setting: "0",
        })
    }

    fn ids(w: &[Warning]) -> Vec<&str> {
        w.iter().map(|w| w.id).collect()
    }

    #[test]
    fn quiet_window_has_no_warnings() {
        let s = vec![client(1, "api", "active"), client(2, "api", "idle")];
        assert!(run(&[s.clone(), s], 4, 40).is_empty());
    }

    #[test]
    fn idle_in_transaction_over_the_threshold() {
        let mut old = client(1, "batch", "idle in transaction");
        old.state_age_s = Some(12.0);
        old.xact_age_s = Some(14.0);
        old.query = Some("UPDATE jobs SET state = 'x'".into());
        let mut young = client(2, "api", "idle in transaction");
        young.state_age_s = Some(0.2);
        let w = run(&[vec![old, young, client(3, "api", "idle")]], 4, 40);
        assert_eq!(ids(&w), ["idle-in-transaction"]);
        assert!(w[0].message.contains("pid 1 (batch"), "{}", w[0].message);
        assert!(w[0].message.contains("12.0 s"), "{}", w[0].message);
        assert!(
            w[0].help
                .contains("idle_in_transaction_session_timeout is off")
        );
        assert_eq!(w[0].evidence["transaction_age_s"], 14.0);
    }

    #[test]
    fn saturated_application_and_demand_over_cores() {
        // 8 connections, all active in every sample, on 2 cores (limit 5).
        let s: Vec<Backend> = (1..=8).map(|p| client(p, "pgbench", "active")).collect();
        let w = run(&[s.clone(), s], 2, 40);
        assert_eq!(ids(&w), ["pool-saturation", "demand-exceeds-cores"]);
        assert_eq!(w[1].evidence["demand"], 8);
        assert_eq!(w[1].evidence["server_limit"], 5);
    }

    #[test]
    fn locks_max_connections_and_the_limit() {
        let mut blocked = client(1, "api", "active");
        blocked.wait_event_type = Some("Lock".into());
        blocked.wait_event = Some("transactionid".into());
        let mut s = vec![blocked];
        s.extend((2..=40).map(|p| client(p, "api", "idle")));
        // 40 of 47 usable (50 − 3) is 85%; 50 > 10 × (1 × 2 + 1).
        let w = run(&[s], 1, 50);
        assert_eq!(
            ids(&w),
            [
                "lock-waits",
                "max-connections-high",
                "connections-near-limit"
            ]
        );
        assert!(
            w[0].message.contains("Lock:transactionid"),
            "{}",
            w[0].message
        );
        assert_eq!(w[2].evidence["client_connections_max"], 40);
    }

    #[test]
    fn saturated_pgbouncer_pool() {
        let mut acc = crate::pool::pgbouncer::PoolsAccumulator::new(None);
        let row = crate::pool::pgbouncer::PoolRow {
            database: "app".into(),
            user: "u".into(),
            cl_active: 3,
            cl_waiting: 4,
            sv_active: 3,
            sv_idle: 0,
            maxwait_us: 40_000,
            pool_mode: Some("transaction".into()),
        };
        acc.add(std::slice::from_ref(&row));
        let pools = acc.finish(
            &[],
            &crate::pool::pgbouncer::Settings {
                default_pool_size: Some(3),
                ..Default::default()
            },
        );
        let activity = Accumulator::new(None).finish();
        let proposal = propose(&Inputs {
            cores: None,
            effective_spindles: 0,
            busy_p95: 0,
            littles_pgss: None,
            littles_pgbouncer: Some(3.0),
            max_connections: 100,
            superuser_reserved_connections: 3,
            reserved_connections: 0,
            connections_max: 0,
            apps: vec![AppInput {
                key: GroupKey {
                    application_name: "x".into(),
                    user: "u".into(),
                    database: "app".into(),
                },
                instances: 1,
                busy_p95: 0,
                busy_max: 0,
            }],
        });
        let w = check(&Context {
            activity: &activity,
            proposal: &proposal,
            pgbouncer_pools: &pools,
            max_connections: 100,
            idle_tx_threshold_s: 5.0,
            idle_tx_timeout_setting: "1min",
        });
        assert_eq!(ids(&w), ["pool-saturation"]);
        assert!(
            w[0].message.contains("PgBouncer pool app/u"),
            "{}",
            w[0].message
        );
        assert_eq!(w[0].evidence["max_wait_ms"], 40.0);
    }
}
