//! Command-line surface: clap structs stay dumb (they only describe flags);
//! each command's handler in `commands/` resolves them against the
//! environment and defaults before doing any work. This file also owns the
//! single place that turns outcomes into exit codes and error text.

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::exit::ExitStatus;

#[derive(Debug, Parser)]
#[command(
    name = "pgadvisor",
    version,
    about = "Make PostgreSQL fast and keep it fast",
    long_about = "Make PostgreSQL fast and keep it fast: see where time goes (top), gate CI on it \
                  (check), get index advice validated by the planner (advise) and roll it out safely \
                  (apply); warm and inspect the Redis cache in front of it (cache).",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index proposals for a workload, validated by the planner (HypoPG), plus drops and foreign keys.
    Advise(commands::advise::Args),
    /// Normalize SQL statements and print their query fingerprints.
    Fingerprint(commands::fingerprint::Args),
    /// Judge the workload against rules (rules/default.yaml or --rules) and
    /// fail CI (exit 1) when a rule at `error` severity fires.
    Check(commands::check::Args),
    /// Print a check rule's documentation; --list for all rules.
    Rule(commands::rule::Args),
    /// Where the time goes: query shapes from pg_stat_statements (live or
    /// an export), server logs, or the delta since a snapshot.
    Top(commands::top::Args),
    /// Save pg_stat_statements counters to measure a window with `top --since`.
    Snapshot(commands::snapshot::Args),
    /// Check the connection settings: connect and print the server version,
    /// TLS state, user and database.
    Ping(commands::ping::Args),
    /// Measure connection use (pg_stat_activity, pg_stat_statements,
    /// PgBouncer) and propose pool sizes for every layer.
    Pool(commands::pool::Args),
    /// Read EXPLAIN output (file, stdin or live) and show where the time goes and how to fix it.
    Explain(commands::explain::Args),
    /// Execute a plan file: CREATE/DROP INDEX CONCURRENTLY with lock
    /// timeouts, retries, cleanup of invalid leftovers and verification.
    Apply(commands::apply::Args),
    /// Inspect, warm and invalidate the Redis cache in front of PostgreSQL.
    Cache(commands::cache::Args),
}

/// Parse the process arguments, run the command, map the outcome to an exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let status = match run(cli) {
        Ok(status) => status,
        Err(err) => report_error(&err),
    };
    status.into()
}

/// Run a parsed command line. Integration tests call this through the binary;
/// it is public so embedding programs can too.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Advise(args) => commands::advise::run(args).await,
            Command::Fingerprint(args) => commands::fingerprint::run(args).await,
            Command::Check(args) => commands::check::run(args).await,
            Command::Rule(args) => commands::rule::run(args).await,
            Command::Top(args) => commands::top::run(args).await,
            Command::Snapshot(args) => commands::snapshot::run(args).await,
            Command::Ping(args) => commands::ping::run(args).await,
            Command::Pool(args) => commands::pool::run(args).await,
            Command::Explain(args) => commands::explain::run(args).await,
            Command::Apply(args) => commands::apply::run(args).await,
            Command::Cache(args) => commands::cache::run(args).await,
        }
    })
}

/// Print an error chain the way users read it and pick the exit code.
/// A closed pipe (`pgadvisor top | head`) is not an error worth a word.
fn report_error(err: &anyhow::Error) -> ExitStatus {
    if is_broken_pipe(err) {
        return ExitStatus::Success;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {err}");
    for cause in err.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
    ExitStatus::Error
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
