//! The monitor connection: while builds run it polls
//! `pg_stat_progress_create_index` for progress and `pg_blocking_pids` for
//! whoever keeps a build waiting, and on Ctrl-C it cancels the running
//! builds on the server (`pg_cancel_backend`). A monitor error never fails a
//! build: progress is a view, not a dependency.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::executor::{Shared, lock};
use super::progress::{Blocker, BuildProgress, Ui};
use super::session::Session;

const PROGRESS_SQL: &str = include_str!("../../sql/apply_progress.sql");
const BLOCKERS_SQL: &str = include_str!("../../sql/apply_blockers.sql");
const CANCEL_SQL: &str = include_str!("../../sql/apply_cancel.sql");

/// Poll until `stop` turns true.
pub async fn watch_builds(
    client: Arc<Session>,
    shared: Arc<Shared>,
    ui: Arc<Ui>,
    mut stop: watch::Receiver<bool>,
    every: Duration,
) {
    let mut warned = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let running = shared.running_pids();
        if running.is_empty() {
            continue;
        }
        if let Err(e) = poll(&client, &shared, &ui, &running).await
            && !warned
        {
            warned = true;
            ui.note(&format!(
                "note: progress monitoring failed ({e}); builds continue"
            ));
        }
    }
}

async fn poll(
    client: &Session,
    shared: &Shared,
    ui: &Ui,
    running: &[(i32, usize)],
) -> Result<(), tokio_postgres::Error> {
    let pids: Vec<i32> = running.iter().map(|(p, _)| *p).collect();
    for r in client.query(PROGRESS_SQL, &[&pids]).await? {
        let p = BuildProgress {
            pid: r.get("pid"),
            phase: r.get("phase"),
            blocks_total: r.get("blocks_total"),
            blocks_done: r.get("blocks_done"),
            tuples_total: r.get("tuples_total"),
            tuples_done: r.get("tuples_done"),
            lockers_total: r.get("lockers_total"),
            lockers_done: r.get("lockers_done"),
        };
        if let Some((_, idx)) = running.iter().find(|(pid, _)| *pid == p.pid) {
            ui.progress(*idx, &p);
        }
    }
    for (pid, idx) in running {
        let blockers: Vec<Blocker> = client
            .query(BLOCKERS_SQL, &[pid])
            .await?
            .iter()
            .map(|r| Blocker {
                pid: r.get("pid"),
                application: r.get("application"),
                state: r.get("state"),
                age_seconds: r.get("age_seconds"),
                query: r.get("query"),
            })
            .collect();
        ui.blocked(*idx, &blockers);
        let mut seen = lock(&shared.blockers);
        if blockers.is_empty() {
            seen.remove(idx);
        } else {
            seen.insert(*idx, blockers);
        }
    }
    Ok(())
}

/// Cancel every running build on the server.
pub async fn cancel_running(client: &Session, shared: &Shared, ui: &Ui) {
    for (pid, _) in shared.running_pids() {
        if let Err(e) = client.query_one(CANCEL_SQL, &[&pid]).await {
            ui.note(&format!("warning: pg_cancel_backend({pid}) failed: {e}"));
        }
    }
}
