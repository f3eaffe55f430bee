//! pgadvisor: make PostgreSQL fast and keep it fast.
//!
//! The modules follow what flows through the tool:
//! `intake` (pg_stat_statements, server logs, SQL files, EXPLAIN plans)
//! → `normalize` (fingerprints) → reports (`commands::top`, `check`)
//! and, later, catalog → advise → plan file → apply; plus `cache`.
//! `commands` holds one file per subcommand: the glue between the CLI
//! and the library. I/O (Postgres, Redis, files, terminal) stays in
//! `conn`, `output` and the command handlers so the logic is testable on
//! fixtures.

pub mod advise;
pub mod apply;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod commands;
pub mod conn;
pub mod exit;
pub mod explain;
pub mod ident;
pub mod intake;
pub mod normalize;
pub mod output;
pub mod plan;
pub mod pool;
pub mod shapes;
