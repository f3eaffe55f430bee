//! `pgadvisor pool`: measure how many connections a workload really uses
//! and propose pool sizes for every layer, with the numbers behind them.
//!
//! Flow: `sampler` (I/O: pg_stat_activity every --interval, PgBouncer's
//! SHOW POOLS alongside) → `stats` (distributions per state and
//! application; Little's law from the pg_stat_statements delta) →
//! `sizing` (the arithmetic, formulas in its docs and docs/pool.md) →
//! `warnings` (findings with evidence) → `snippets` (ready-to-paste
//! configuration) → `report` (the JSON document). `host` finds the
//! database host's cores; `pgbouncer` reads the admin console.
//! Everything but `sampler`, `host::local_cores` and `pgbouncer::Console`
//! is pure and unit-tested.

pub mod host;
pub mod pgbouncer;
pub mod report;
pub mod sampler;
pub mod sizing;
pub mod snippets;
pub mod stats;
pub mod warnings;
