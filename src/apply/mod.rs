//! `pgadvisor apply`: execute a plan file against a live primary without
//! blocking the application, without leaving a broken index behind, and
//! safely re-runnable (docs/apply.md).
//!
//! - `ddl`: what a plan's DDL targets, checked against the action (pure)
//! - `names`: plan names and live-index vs planned-definition comparison (pure)
//! - `schedule`: `--only/--skip` selection and the one-build-per-table rule (pure)
//! - `preflight`: preconditions and the per-action verdict
//! - `executor`: build/drop connections, lock retries, cleanup, validation
//! - `monitor`: progress, blockers and Ctrl-C cancel on a separate connection
//! - `progress`: bars or plain lines
//! - `session`: connections kept for many statements, with prepared catalog queries
//! - `report`: the dry-run text and the summary table (pure)

pub mod ddl;
pub mod executor;
pub mod monitor;
pub mod names;
pub mod preflight;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

pub use executor::{Outcome, Result_, Settings};
pub use preflight::Verdict;

use crate::conn::PgTarget;
use crate::plan::Plan;

/// Check every selected action; `(action index, verdict)` in plan order.
pub async fn preflight_all(
    client: &session::Session,
    plan: &Plan,
    selected: &[usize],
    allow_drop: bool,
) -> Result<Vec<(usize, Verdict)>> {
    let mut out = Vec::with_capacity(selected.len());
    for &i in selected {
        out.push((
            i,
            preflight::check(client, &plan.actions[i], allow_drop).await?,
        ));
    }
    Ok(out)
}

/// Run the actions whose verdict is `Run`; the others become outcomes as
/// they are. Ctrl-C cancels running builds on the server, cleans up and
/// returns (the caller sees `Cancelled` / `NotStarted` outcomes).
pub async fn execute(
    target: &PgTarget,
    plan: &Plan,
    verdicts: &[(usize, Verdict)],
    settings: Settings,
    ui: Arc<progress::Ui>,
) -> Result<Vec<Outcome>> {
    let monitor = Arc::new(session::Session::open(target).await?);
    let shared = executor::Shared::new();
    let to_run: Vec<usize> = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Run { .. }))
        .map(|(i, _)| *i)
        .collect();
    let ctx = Arc::new(executor::Ctx::new(
        target.clone(),
        plan.actions.clone(),
        settings,
        shared.clone(),
        ui.clone(),
        &to_run,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(monitor::watch_builds(
        monitor.clone(),
        shared.clone(),
        ui.clone(),
        stop_rx,
        Duration::from_millis(500),
    ));
    let interrupt = {
        let (shared, ui, monitor) = (shared.clone(), ui.clone(), monitor.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                ui.note(
                    "interrupted: cancelling running builds on the server, then cleaning up (wait)",
                );
                shared.cancel();
                monitor::cancel_running(&monitor, &shared, &ui).await;
            }
        })
    };
    let ran = executor::run_all(ctx, to_run).await;
    interrupt.abort();
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    ui.clear();
    let mut ran = ran.into_iter();
    Ok(verdicts
        .iter()
        .map(|(i, v)| {
            let a = &plan.actions[*i];
            match v {
                Verdict::Run { .. } => ran
                    .next()
                    .unwrap_or_else(|| Outcome::new(a, Result_::NotStarted, String::new())),
                Verdict::Done(m) => Outcome::new(a, Result_::AlreadyDone, m.clone()),
                Verdict::Skipped(m) => Outcome::new(a, Result_::Skipped, m.clone()),
                Verdict::Refused(m) => Outcome::new(a, Result_::Refused, m.clone()),
            }
        })
        .collect())
}
