//! The sizing arithmetic, pure: from measured concurrency, throughput and
//! the host's cores to a target of active server connections, pool sizes
//! per application instance, burst headroom, and a PgBouncer layout when
//! clients would hold more connections than the server should.
//! Every number carries the formula and the inputs that produced it
//! ([`Formula`]); docs/pool.md explains the same formulas for users.
//!
//! The formulas, in order (⌈x⌉ rounds up, ⌊x⌋ down):
//!
//! 1. Server limit, when the cores are known — the PostgreSQL wiki's
//!    "Number Of Database Connections" and HikariCP's "About Pool Sizing":
//!    `limit = cores × 2 + effective_spindles`. More active connections
//!    than this do not add throughput; they queue in the server instead of
//!    in the pool, and each waits longer.
//! 2. Measured demand: `demand = max(busy.p95, round(L_pgss), round(L_pgbouncer))`,
//!    where `busy` is the number of connections active or idle in a
//!    transaction per sample (what pools had checked out) and `L = λ × W`
//!    is Little's law over the same window (calls/s × mean time), a mean
//!    rounded to the nearest whole connection.
//! 3. Target of concurrently active connections:
//!    `target = max(1, min(limit, demand))` (`max(1, demand)` without cores).
//! 4. Spare capacity for bursts: `spare = max(0, limit − target)`
//!    (unbounded without cores).
//! 5. Per application (a group of application_name, role, database) `i`
//!    with `n_i` instances (`--instances`): share `s_i = d_i / Σd`, with
//!    `d_i` its busy.p95 (equal shares when every `d` is 0);
//!    `pool_i = max(1, ⌈target × s_i / n_i⌉)` per instance;
//!    `overflow_i = min(⌊spare × s_i / n_i⌋, max(⌈burst_i / n_i⌉, ⌈pool_i / 2⌉))`
//!    with `burst_i = busy.max_i − busy.p95_i`: the bursts seen in the
//!    window, at least half the pool for bursts the window did not see,
//!    never beyond the server's spare capacity.
//!    `total_i = (pool_i + overflow_i) × n_i`, `total = Σ total_i`.
//! 6. Usable slots: `usable = max_connections − superuser_reserved_connections
//!    − reserved_connections`.
//! 7. PgBouncer is proposed when the client connections
//!    `clients = max(measured connections.max, total)` exceed what the
//!    server should hold, `hold = min(usable, 2 × limit)` (`2 × target`
//!    without cores): at most one idle connection per connection that
//!    can usefully run. Its layout: `pool_mode = transaction`,
//!    `default_pool_size = max(1, ⌈target / pairs⌉)` for the `pairs` of
//!    (database, role) seen, `reserve_pool_size = min(⌊spare / pairs⌋,
//!    ⌈default_pool_size / 2⌉)`, `max_client_conn = max(100, ⌈1.5 × clients⌉)`
//!    (room for instances to overlap during a rolling deploy).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::stats::GroupKey;

/// A number with the formula and inputs that produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Formula {
    pub value: u32,
    /// The formula in words, e.g. `cores × 2 + effective_spindles`.
    pub formula: String,
    /// The inputs by name.
    pub inputs: BTreeMap<String, f64>,
    /// The formula with the inputs filled in, e.g. `2 × 2 + 1 = 5`.
    pub expression: String,
}

/// One application group's measured demand.
#[derive(Debug, Clone, PartialEq)]
pub struct AppInput {
    pub key: GroupKey,
    /// Instances of the application sharing the database (`--instances`).
    pub instances: u32,
    pub busy_p95: u32,
    pub busy_max: u32,
}

/// Everything the arithmetic needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub cores: Option<u32>,
    pub effective_spindles: u32,
    /// Connections active or idle in a transaction, p95 over the samples.
    pub busy_p95: u32,
    /// Little's law from the pg_stat_statements delta.
    pub littles_pgss: Option<f64>,
    /// Little's law from PgBouncer's SHOW STATS delta.
    pub littles_pgbouncer: Option<f64>,
    pub max_connections: u32,
    pub superuser_reserved_connections: u32,
    /// PostgreSQL 16+; 0 before.
    pub reserved_connections: u32,
    /// Client connections measured in scope, at most.
    pub connections_max: u32,
    pub apps: Vec<AppInput>,
}

/// The proposed size for one application group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppProposal {
    #[serde(flatten)]
    pub key: GroupKey,
    pub instances: u32,
    /// Its share of the target.
    pub share: f64,
    /// Steady pool size per instance.
    pub pool_size: u32,
    /// Extra connections per instance for bursts.
    pub overflow: u32,
    /// `pool_size + overflow`: the most connections one instance opens.
    pub max_size: u32,
    /// `max_size × instances`.
    pub total: u32,
    pub pool_size_formula: Formula,
    pub overflow_formula: Formula,
}

/// PgBouncer in front of the server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgBouncerLayout {
    pub recommended: bool,
    pub reason: String,
    /// Client connections the server would otherwise hold.
    pub client_connections: Formula,
    /// What the server should hold.
    pub server_should_hold: Formula,
    pub pool_mode: String,
    pub default_pool_size: Formula,
    pub reserve_pool_size: Formula,
    pub max_client_conn: Formula,
}

/// The proposal: each number with its formula.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// `cores × 2 + effective_spindles`; absent when the cores are unknown.
    pub server_limit: Option<Formula>,
    pub demand: Formula,
    pub target_active: Formula,
    /// `limit − target`; absent (unbounded) when the cores are unknown.
    pub spare: Option<Formula>,
    pub applications: Vec<AppProposal>,
    /// `Σ total_i`: connections the proposed pools open at most.
    pub total_connections: u32,
    pub usable_connections: Formula,
    /// `total_connections / usable_connections`, in percent.
    pub pct_of_usable: f64,
    pub pgbouncer: PgBouncerLayout,
}

fn inputs(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
}

/// ⌈x⌉ that ignores floating-point dust (2.0000000001 is 2).
fn ceil(x: f64) -> u32 {
    if !x.is_finite() || x <= 0.0 {
        return 0;
    }
    (x - 1e-9).ceil().max(0.0) as u32
}

fn floor(x: f64) -> u32 {
    if !x.is_finite() || x <= 0.0 {
        return 0;
    }
    (x + 1e-9).floor() as u32
}

fn num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

/// Formula 1: `cores × 2 + effective_spindles`.
pub fn server_limit(cores: u32, spindles: u32) -> Formula {
    let value = cores.saturating_mul(2).saturating_add(spindles);
    Formula {
        value,
        formula: "cores × 2 + effective_spindles".into(),
        inputs: inputs(&[
            ("cores", f64::from(cores)),
            ("effective_spindles", f64::from(spindles)),
        ]),
        expression: format!("{cores} × 2 + {spindles} = {value}"),
    }
}

/// Formula 2: `max(busy.p95, round(L_pgss), round(L_pgbouncer))`. Little's
/// law gives a mean, so it is rounded to the nearest whole connection (a
/// mean of 2.08 from two always-busy clients is noise at the window's
/// edges, not a third connection); the sampled p95 carries the tail.
pub fn demand(busy_p95: u32, pgss: Option<f64>, pgbouncer: Option<f64>) -> Formula {
    let mut terms = vec!["busy.p95".to_string()];
    let mut parts = vec![busy_p95.to_string()];
    let mut ins = vec![("busy_p95", f64::from(busy_p95))];
    let mut value = busy_p95;
    for (name, key, l) in [
        ("L_pgss", "littles_law_pg_stat_statements", pgss),
        ("L_pgbouncer", "littles_law_pgbouncer", pgbouncer),
    ] {
        if let Some(l) = l {
            value = value.max(nearest(l));
            terms.push(format!("round({name})"));
            parts.push(format!("round({})", num(l)));
            ins.push((key, l));
        }
    }
    let (formula, expression) = if terms.len() == 1 {
        ("busy.p95".to_string(), format!("{busy_p95}"))
    } else {
        (
            format!("max({})", terms.join(", ")),
            format!("max({}) = {value}", parts.join(", ")),
        )
    };
    Formula {
        value,
        formula,
        inputs: inputs(&ins),
        expression,
    }
}

fn nearest(x: f64) -> u32 {
    if !x.is_finite() || x <= 0.0 {
        return 0;
    }
    x.round() as u32
}

/// Formula 3: `max(1, min(limit, demand))`, or `max(1, demand)`.
pub fn target(limit: Option<&Formula>, demand: &Formula) -> Formula {
    match limit {
        Some(l) => {
            let value = l.value.min(demand.value).max(1);
            Formula {
                value,
                formula: "max(1, min(limit, demand))".into(),
                inputs: inputs(&[
                    ("limit", f64::from(l.value)),
                    ("demand", f64::from(demand.value)),
                ]),
                expression: format!("max(1, min({}, {})) = {value}", l.value, demand.value),
            }
        }
        None => {
            let value = demand.value.max(1);
            Formula {
                value,
                formula: "max(1, demand) (cores unknown: no server limit)".into(),
                inputs: inputs(&[("demand", f64::from(demand.value))]),
                expression: format!("max(1, {}) = {value}", demand.value),
            }
        }
    }
}

/// Formula 6: slots left for ordinary roles.
pub fn usable(max_connections: u32, superuser_reserved: u32, reserved: u32) -> Formula {
    let value = max_connections
        .saturating_sub(superuser_reserved)
        .saturating_sub(reserved);
    Formula {
        value,
        formula: "max_connections − superuser_reserved_connections − reserved_connections".into(),
        inputs: inputs(&[
            ("max_connections", f64::from(max_connections)),
            (
                "superuser_reserved_connections",
                f64::from(superuser_reserved),
            ),
            ("reserved_connections", f64::from(reserved)),
        ]),
        expression: format!("{max_connections} − {superuser_reserved} − {reserved} = {value}"),
    }
}

/// Formula 5 for every application group.
pub fn applications(apps: &[AppInput], target: u32, spare: Option<u32>) -> Vec<AppProposal> {
    let sum: u32 = apps.iter().map(|a| a.busy_p95).sum();
    apps.iter()
        .map(|a| {
            let n = a.instances.max(1);
            let share = if sum == 0 {
                1.0 / apps.len() as f64
            } else {
                f64::from(a.busy_p95) / f64::from(sum)
            };
            let app_target = f64::from(target) * share;
            let pool = ceil(app_target / f64::from(n)).max(1);
            let pool_size_formula = Formula {
                value: pool,
                formula: "max(1, ⌈target × share / instances⌉)".into(),
                inputs: inputs(&[
                    ("target", f64::from(target)),
                    ("share", share),
                    ("instances", f64::from(n)),
                ]),
                expression: format!(
                    "max(1, ⌈{target} × {} / {n}⌉) = {pool}",
                    num(stats_round(share))
                ),
            };
            let burst = a.busy_max.saturating_sub(a.busy_p95);
            let wanted = ceil(f64::from(burst) / f64::from(n)).max(ceil(f64::from(pool) / 2.0));
            let (overflow, overflow_formula) = match spare {
                Some(s) => {
                    let room = floor(f64::from(s) * share / f64::from(n));
                    let v = room.min(wanted);
                    (
                        v,
                        Formula {
                            value: v,
                            formula: "min(⌊spare × share / instances⌋, max(⌈burst / instances⌉, \
                                      ⌈pool / 2⌉))"
                                .into(),
                            inputs: inputs(&[
                                ("spare", f64::from(s)),
                                ("share", share),
                                ("instances", f64::from(n)),
                                ("burst", f64::from(burst)),
                                ("pool", f64::from(pool)),
                            ]),
                            expression: format!(
                                "min(⌊{s} × {} / {n}⌋, max(⌈{burst} / {n}⌉, ⌈{pool} / 2⌉)) = {v}",
                                num(stats_round(share))
                            ),
                        },
                    )
                }
                None => (
                    wanted,
                    Formula {
                        value: wanted,
                        formula: "max(⌈burst / instances⌉, ⌈pool / 2⌉) (cores unknown: no \
                                  spare-capacity cap)"
                            .into(),
                        inputs: inputs(&[
                            ("instances", f64::from(n)),
                            ("burst", f64::from(burst)),
                            ("pool", f64::from(pool)),
                        ]),
                        expression: format!("max(⌈{burst} / {n}⌉, ⌈{pool} / 2⌉) = {wanted}"),
                    },
                ),
            };
            let max_size = pool + overflow;
            AppProposal {
                key: a.key.clone(),
                instances: n,
                share: stats_round(share),
                pool_size: pool,
                overflow,
                max_size,
                total: max_size.saturating_mul(n),
                pool_size_formula,
                overflow_formula,
            }
        })
        .collect()
}

fn stats_round(v: f64) -> f64 {
    super::stats::round(v, 4)
}

/// Formula 7: whether PgBouncer is needed, and its layout.
pub fn pgbouncer(
    connections_max: u32,
    total: u32,
    usable: u32,
    limit: Option<u32>,
    target: u32,
    spare: Option<u32>,
    pairs: u32,
) -> PgBouncerLayout {
    let clients = connections_max.max(total);
    let client_connections = Formula {
        value: clients,
        formula: "max(measured connections.max, proposed total)".into(),
        inputs: inputs(&[
            ("connections_max", f64::from(connections_max)),
            ("total", f64::from(total)),
        ]),
        expression: format!("max({connections_max}, {total}) = {clients}"),
    };
    let (basis_name, basis) = match limit {
        Some(l) => ("limit", l),
        None => ("target", target),
    };
    let hold = usable.min(basis.saturating_mul(2));
    let server_should_hold = Formula {
        value: hold,
        formula: format!("min(usable, 2 × {basis_name})"),
        inputs: inputs(&[
            ("usable", f64::from(usable)),
            (basis_name, f64::from(basis)),
        ]),
        expression: format!("min({usable}, 2 × {basis}) = {hold}"),
    };
    let pairs = pairs.max(1);
    let dps = ceil(f64::from(target) / f64::from(pairs)).max(1);
    let default_pool_size = Formula {
        value: dps,
        formula: "max(1, ⌈target / pairs⌉)".into(),
        inputs: inputs(&[("target", f64::from(target)), ("pairs", f64::from(pairs))]),
        expression: format!("max(1, ⌈{target} / {pairs}⌉) = {dps}"),
    };
    let half = ceil(f64::from(dps) / 2.0);
    let reserve_pool_size = match spare {
        Some(s) => {
            let v = floor(f64::from(s) / f64::from(pairs)).min(half);
            Formula {
                value: v,
                formula: "min(⌊spare / pairs⌋, ⌈default_pool_size / 2⌉)".into(),
                inputs: inputs(&[
                    ("spare", f64::from(s)),
                    ("pairs", f64::from(pairs)),
                    ("default_pool_size", f64::from(dps)),
                ]),
                expression: format!("min(⌊{s} / {pairs}⌋, ⌈{dps} / 2⌉) = {v}"),
            }
        }
        None => Formula {
            value: half,
            formula: "⌈default_pool_size / 2⌉ (cores unknown: no spare-capacity cap)".into(),
            inputs: inputs(&[("default_pool_size", f64::from(dps))]),
            expression: format!("⌈{dps} / 2⌉ = {half}"),
        },
    };
    let mcc = ceil(1.5 * f64::from(clients)).max(100);
    let max_client_conn = Formula {
        value: mcc,
        formula: "max(100, ⌈1.5 × clients⌉)".into(),
        inputs: inputs(&[("clients", f64::from(clients))]),
        expression: format!("max(100, ⌈1.5 × {clients}⌉) = {mcc}"),
    };
    let recommended = clients > hold;
    let reason = if recommended {
        format!(
            "{clients} client connections exceed the {hold} the server should hold \
             ({}): put PgBouncer in transaction mode in front of it so {dps} server \
             connections per (database, role) serve them all",
            server_should_hold.expression
        )
    } else {
        format!(
            "{clients} client connections fit within the {hold} the server should hold ({})",
            server_should_hold.expression
        )
    };
    PgBouncerLayout {
        recommended,
        reason,
        client_connections,
        server_should_hold,
        pool_mode: "transaction".into(),
        default_pool_size,
        reserve_pool_size,
        max_client_conn,
    }
}

/// The whole proposal (formulas 1–7).
pub fn propose(i: &Inputs) -> Proposal {
    let server_limit = i.cores.map(|c| server_limit(c, i.effective_spindles));
    let demand = demand(i.busy_p95, i.littles_pgss, i.littles_pgbouncer);
    let target_active = target(server_limit.as_ref(), &demand);
    let spare = server_limit.as_ref().map(|l| {
        let v = l.value.saturating_sub(target_active.value);
        Formula {
            value: v,
            formula: "max(0, limit − target)".into(),
            inputs: inputs(&[
                ("limit", f64::from(l.value)),
                ("target", f64::from(target_active.value)),
            ]),
            expression: format!("max(0, {} − {}) = {v}", l.value, target_active.value),
        }
    });
    let applications = applications(
        &i.apps,
        target_active.value,
        spare.as_ref().map(|s| s.value),
    );
    let total_connections: u32 = applications.iter().map(|a| a.total).sum();
    let usable_connections = usable(
        i.max_connections,
        i.superuser_reserved_connections,
        i.reserved_connections,
    );
    let pct_of_usable = if usable_connections.value == 0 {
        0.0
    } else {
        super::stats::round(
            100.0 * f64::from(total_connections) / f64::from(usable_connections.value),
            1,
        )
    };
    let pairs: BTreeSet<(&str, &str)> = i
        .apps
        .iter()
        .map(|a| (a.key.database.as_str(), a.key.user.as_str()))
        .collect();
    let pgbouncer = pgbouncer(
        i.connections_max,
        total_connections,
        usable_connections.value,
        server_limit.as_ref().map(|l| l.value),
        target_active.value,
        spare.as_ref().map(|s| s.value),
        pairs.len() as u32,
    );
    Proposal {
        server_limit,
        demand,
        target_active,
        spare,
        applications,
        total_connections,
        usable_connections,
        pct_of_usable,
        pgbouncer,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn app(name: &str, instances: u32, p95: u32, max: u32) -> AppInput {
        AppInput {
            key: GroupKey {
                application_name: name.into(),
                user: "app".into(),
                database: "app".into(),
            },
            instances,
            busy_p95: p95,
            busy_max: max,
        }
    }

    fn inputs_with(cores: Option<u32>, busy_p95: u32, apps: Vec<AppInput>) -> Inputs {
        Inputs {
            cores,
            effective_spindles: 1,
            busy_p95,
            littles_pgss: None,
            littles_pgbouncer: None,
            max_connections: 100,
            superuser_reserved_connections: 3,
            reserved_connections: 0,
            connections_max: busy_p95,
            apps,
        }
    }

    #[test]
    fn wiki_formula_for_the_server_limit() {
        // HikariCP's example: a 4-core i7 with one disk → 9.
        let f = server_limit(4, 1);
        assert_eq!(f.value, 9);
        assert_eq!(f.expression, "4 × 2 + 1 = 9");
        assert_eq!(f.inputs["cores"], 4.0);
        assert_eq!(server_limit(16, 0).value, 32);
    }

    #[test]
    fn demand_takes_the_largest_measure() {
        let d = demand(2, None, None);
        assert_eq!(
            (d.value, d.formula.as_str(), d.expression.as_str()),
            (2, "busy.p95", "2")
        );
        let d = demand(2, Some(3.6), Some(1.0));
        assert_eq!(d.value, 4);
        assert_eq!(
            d.formula,
            "max(busy.p95, round(L_pgss), round(L_pgbouncer))"
        );
        assert_eq!(d.expression, "max(2, round(3.60), round(1)) = 4");
        // Little's law is a mean: edge noise above a whole number is not a connection.
        assert_eq!(demand(2, Some(2.08), None).value, 2);
        assert_eq!(demand(0, Some(2.5), None).value, 3);
        assert_eq!(demand(0, None, None).value, 0);
        assert_eq!(demand(1, Some(f64::NAN), None).value, 1);
    }

    #[test]
    fn target_is_capped_by_cores_and_at_least_one() {
        let limit = server_limit(2, 1); // 5
        assert_eq!(target(Some(&limit), &demand(8, None, None)).value, 5);
        assert_eq!(target(Some(&limit), &demand(2, None, None)).value, 2);
        assert_eq!(target(Some(&limit), &demand(0, None, None)).value, 1);
        assert_eq!(target(None, &demand(8, None, None)).value, 8);
    }

    #[test]
    fn one_application_two_or_eight_clients_on_two_cores() {
        // 2 busy clients: target 2, spare 3, overflow min(3, max(0, 1)) = 1.
        let p = propose(&inputs_with(Some(2), 2, vec![app("pgbench", 1, 2, 2)]));
        assert_eq!(p.server_limit.as_ref().unwrap().value, 5);
        assert_eq!(p.target_active.value, 2);
        assert_eq!(p.spare.as_ref().unwrap().value, 3);
        let a = &p.applications[0];
        assert_eq!((a.pool_size, a.overflow, a.max_size, a.total), (2, 1, 3, 3));
        assert_eq!(p.total_connections, 3);
        // 8 busy clients: capped at 5, no spare, no overflow.
        let p = propose(&inputs_with(Some(2), 8, vec![app("pgbench", 1, 8, 8)]));
        assert_eq!(p.target_active.value, 5);
        let a = &p.applications[0];
        assert_eq!((a.pool_size, a.overflow, a.total), (5, 0, 5));
        assert!(!p.pgbouncer.recommended, "{}", p.pgbouncer.reason);
    }

    #[test]
    fn pools_split_by_share_and_instances() {
        // 16 cores, no spindles: limit 32. api needs 12, worker 4: demand 16 (measured p95 of
        // the sum), target 16, spare 16.
        let mut i = inputs_with(
            Some(16),
            16,
            vec![app("api", 4, 12, 20), app("worker", 2, 4, 4)],
        );
        i.effective_spindles = 0;
        let p = propose(&i);
        assert_eq!(p.target_active.value, 16);
        let api = &p.applications[0];
        // share 0.75: ⌈16 × 0.75 / 4⌉ = 3 per instance; burst 8 → ⌈8/4⌉ = 2,
        // room ⌊16 × 0.75 / 4⌋ = 3 → overflow 2; total (3 + 2) × 4 = 20.
        assert_eq!(api.share, 0.75);
        assert_eq!((api.pool_size, api.overflow, api.total), (3, 2, 20));
        let worker = &p.applications[1];
        // share 0.25: ⌈16 × 0.25 / 2⌉ = 2; burst 0, half pool 1, room ⌊2⌋ → 1.
        assert_eq!((worker.pool_size, worker.overflow, worker.total), (2, 1, 6));
        assert_eq!(p.total_connections, 26);
        assert_eq!(p.usable_connections.value, 97);
        assert_eq!(p.pct_of_usable, 26.8);
    }

    #[test]
    fn idle_applications_share_equally_and_keep_one_connection() {
        let p = propose(&inputs_with(
            Some(2),
            0,
            vec![app("a", 1, 0, 0), app("b", 1, 0, 0)],
        ));
        assert_eq!(p.target_active.value, 1);
        assert_eq!(p.applications[0].share, 0.5);
        assert_eq!(p.applications[0].pool_size, 1);
        assert_eq!(p.applications[1].pool_size, 1);
    }

    #[test]
    fn without_cores_overflow_has_no_cap() {
        let p = propose(&inputs_with(None, 6, vec![app("api", 2, 6, 10)]));
        assert!(p.server_limit.is_none() && p.spare.is_none());
        assert_eq!(p.target_active.value, 6);
        let a = &p.applications[0];
        // ⌈6 / 2⌉ = 3; max(⌈4 / 2⌉, ⌈3 / 2⌉) = 2.
        assert_eq!((a.pool_size, a.overflow, a.total), (3, 2, 10));
        assert!(a.overflow_formula.formula.contains("cores unknown"));
    }

    #[test]
    fn pgbouncer_when_clients_exceed_what_the_server_should_hold() {
        // 2 cores (limit 5) and 300 measured client connections: hold = min(97, 10) = 10.
        let mut i = inputs_with(Some(2), 8, vec![app("api", 20, 8, 12)]);
        i.connections_max = 300;
        let p = propose(&i);
        let b = &p.pgbouncer;
        assert!(b.recommended);
        assert_eq!(b.server_should_hold.value, 10);
        assert_eq!(b.client_connections.value, 300);
        assert_eq!(b.default_pool_size.value, 5);
        assert_eq!(b.reserve_pool_size.value, 0);
        assert_eq!(b.max_client_conn.value, 450);
        assert!(
            b.reason.contains("300 client connections exceed"),
            "{}",
            b.reason
        );
        // Few clients: not needed, and max_client_conn keeps PgBouncer's default floor.
        let p = propose(&inputs_with(Some(8), 4, vec![app("api", 1, 4, 4)]));
        assert!(!p.pgbouncer.recommended);
        assert_eq!(p.pgbouncer.max_client_conn.value, 100);
        // Spare 17 − 4 = 13 → reserve min(13, ⌈4 / 2⌉) = 2.
        assert_eq!(p.pgbouncer.reserve_pool_size.value, 2);
    }

    #[test]
    fn pgbouncer_pool_splits_across_database_role_pairs() {
        let mut other = app("reports", 1, 3, 3);
        other.key.user = "reporter".into();
        let mut i = inputs_with(Some(4), 9, vec![app("api", 1, 6, 6), other]);
        i.connections_max = 200;
        let p = propose(&i);
        // target min(9, 9) = 9 over 2 pairs → ⌈9 / 2⌉ = 5.
        assert_eq!(p.pgbouncer.default_pool_size.value, 5);
        assert!(p.pgbouncer.recommended);
    }

    #[test]
    fn usable_slots_subtract_reservations() {
        assert_eq!(usable(100, 3, 2).value, 95);
        assert_eq!(usable(2, 3, 0).value, 0);
        let p = propose(&Inputs {
            max_connections: 3,
            superuser_reserved_connections: 3,
            ..inputs_with(Some(1), 1, vec![app("a", 1, 1, 1)])
        });
        assert_eq!(p.pct_of_usable, 0.0);
        assert!(
            p.pgbouncer.recommended,
            "0 usable slots cannot hold a client"
        );
    }
}
