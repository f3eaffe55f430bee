//! `pgadvisor apply PLAN`: run a plan file's CREATE/DROP INDEX CONCURRENTLY
//! actions against a live primary (docs/apply.md). Resolves flags, checks
//! the server and every action, asks for consent, runs, prints the summary.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::apply::{self, Result_, Settings, Verdict, preflight, report};
use crate::conn::ConnArgs;
use crate::exit::ExitStatus;
use crate::output::{self, Format};
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file written by `pgadvisor advise --plan-out` (or edited by hand).
    pub plan: PathBuf,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the exact SQL and the checks, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also run the plan's DROP INDEX CONCURRENTLY actions (skipped otherwise).
    #[arg(long)]
    pub allow_drop: bool,
    /// Run only these action ids.
    #[arg(long, value_name = "ID", num_args = 1.., action = clap::ArgAction::Append)]
    pub only: Vec<String>,
    /// Leave out these action ids.
    #[arg(long, value_name = "ID", num_args = 1.., action = clap::ArgAction::Append)]
    pub skip: Vec<String>,
    /// Builds at once, never two on one table.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// How long a statement may wait for a lock before it gives up and retries.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
    /// Retries after a lock timeout, with exponential backoff.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub lock_retries: u32,
    /// Wait before the first retry; doubles each time (at most 60s).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub retry_backoff: Duration,
    /// maintenance_work_mem for the builds (e.g. 1GB); default: the server's.
    #[arg(long, value_name = "SIZE")]
    pub maintenance_work_mem: Option<String>,
    /// max_parallel_maintenance_workers for the builds; default: the server's.
    #[arg(long, value_name = "N")]
    pub max_parallel_maintenance_workers: Option<u32>,
    /// Check each new B-tree index with amcheck's bt_index_check (needs CREATE EXTENSION amcheck).
    #[arg(long)]
    pub verify: bool,
    /// Skip the ANALYZE of each table after its build.
    #[arg(long)]
    pub no_analyze: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    plan: String,
    target: &'a str,
    summary: String,
    actions: &'a [apply::Outcome],
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    let plan = Plan::read(&args.plan)?;
    let plan_path = args.plan.display().to_string();
    let selected = apply::schedule::select(&plan.actions, &args.only, &args.skip)?;
    let target = args.conn.resolve()?;
    let client = apply::session::Session::open(&target).await?;
    let server = preflight::server(&client).await?;
    if server.in_recovery {
        bail!(
            "{} is a standby (pg_is_in_recovery() is true): indexes can only be built on the primary, \
             and they reach the standby through replication; point --dsn at the primary",
            target.display
        );
    }
    if server.version_num < 120000 {
        bail!(
            "{} runs PostgreSQL {}; apply needs 12 or later (pg_stat_progress_create_index)",
            target.display,
            server.version_num
        );
    }
    if args.verify && !preflight::has_amcheck(&client).await? {
        bail!(
            "--verify needs the amcheck extension in this database: run `CREATE EXTENSION amcheck;` \
             (it ships with PostgreSQL's contrib package), or drop --verify"
        );
    }
    let settings = Settings {
        lock_timeout: args.lock_timeout,
        lock_retries: args.lock_retries,
        retry_backoff: args.retry_backoff,
        maintenance_work_mem: args.maintenance_work_mem.clone(),
        max_parallel_maintenance_workers: args.max_parallel_maintenance_workers,
        jobs: usize::from(args.jobs),
        verify: args.verify,
        analyze: !args.no_analyze,
        allow_drop: args.allow_drop,
        server_version_num: server.version_num,
    };
    let verdicts = apply::preflight_all(&client, &plan, &selected, args.allow_drop).await?;
    drop(client);

    if args.dry_run {
        let text = report::dry_run(&plan_path, &target.display, &plan, &verdicts, &settings);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        let refused = verdicts
            .iter()
            .any(|(_, v)| matches!(v, Verdict::Refused(_)));
        return Ok(if refused {
            ExitStatus::Findings
        } else {
            ExitStatus::Success
        });
    }

    let runs = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Run { .. }))
        .count();
    if runs > 0 && !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "apply changes {} and there is no terminal to confirm on: pass --yes to apply {} \
                 without confirmation, or --dry-run to see what it would do",
                target.display,
                plan_path
            );
        }
        let mut err = std::io::stderr().lock();
        writeln!(err, "pgadvisor apply {plan_path} on {}:", target.display)?;
        for line in report::intentions(&plan, &verdicts) {
            writeln!(err, "{line}")?;
        }
        write!(err, "\nApply {runs} action(s)? Only 'yes' is accepted: ")?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            writeln!(err, "apply cancelled; nothing was changed")?;
            return Ok(ExitStatus::Error);
        }
    }

    let outcomes = if runs == 0 {
        // Nothing runs: the verdicts are the outcomes.
        verdicts
            .iter()
            .map(|(i, v)| {
                let a = &plan.actions[*i];
                let (r, m) = match v {
                    Verdict::Done(m) => (Result_::AlreadyDone, m.clone()),
                    Verdict::Skipped(m) => (Result_::Skipped, m.clone()),
                    Verdict::Refused(m) => (Result_::Refused, m.clone()),
                    Verdict::Run { .. } => (Result_::NotStarted, String::new()),
                };
                apply::Outcome::new(a, r, m)
            })
            .collect()
    } else {
        let ui = Arc::new(apply::progress::Ui::new(output::stderr_is_terminal()));
        apply::execute(&target, &plan, &verdicts, settings, ui).await?
    };

    let summary = report::closing(&outcomes);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            // Serialized first so a closed pipe surfaces as an io::Error.
            let mut buf = Vec::new();
            output::write_json(
                &mut buf,
                &JsonReport {
                    plan: plan_path,
                    target: &target.display,
                    summary,
                    actions: &outcomes,
                },
            )?;
            out.write_all(&buf)?;
        }
        Format::Table => {
            let mut t = output::table(&[
                "action",
                "result",
                "duration",
                "index size",
                "cost before → after",
                "uses index",
                "detail",
            ]);
            for row in report::summary_rows(&outcomes) {
                t.add_row(row);
            }
            writeln!(out, "{t}")?;
            writeln!(out, "{summary}")?;
        }
    }
    out.flush()?;
    Ok(
        if outcomes
            .iter()
            .any(|o| matches!(o.result, Result_::Cancelled | Result_::NotStarted))
        {
            ExitStatus::Error
        } else if outcomes.iter().all(|o| o.result.is_ok()) {
            ExitStatus::Success
        } else {
            ExitStatus::Findings
        },
    )
}
