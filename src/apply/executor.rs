//! Running the actions: one dedicated connection per build (never inside a
//! transaction block; the DDL goes through the extended protocol, which
//! refuses a second statement), `lock_timeout` with bounded retries and
//! backoff, invalid leftovers dropped before a rebuild and after a failure
//! or cancel, then validity, ANALYZE, `--verify` and the evidence re-plan.
//! `--jobs` workers share a [`Scheduler`] so one table never has two builds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::sync::watch;
use tokio_postgres::error::SqlState;

use super::names::QualifiedName;
use super::preflight::{self, Verdict};
use super::progress::{Blocker, Ui};
use super::schedule::Scheduler;
use super::session::Session;
use crate::conn::PgTarget;
use crate::conn::explain::server_error;
use crate::plan::{Action, ActionKind};

const SET_CONFIG_SQL: &str = include_str!("../../sql/apply_set_config.sql");
const STATEMENT_TIMEOUT_OFF_SQL: &str = include_str!("../../sql/apply_statement_timeout_off.sql");
const DROP_INDEX_SQL: &str = include_str!("../../sql/apply_drop_index.sql");
const ANALYZE_SQL: &str = include_str!("../../sql/apply_analyze.sql");
const BT_INDEX_CHECK_SQL: &str = include_str!("../../sql/apply_bt_index_check.sql");
const EXPLAIN_SQL: &str = include_str!("../../sql/apply_explain.sql");
const EXPLAIN_GENERIC_SQL: &str = include_str!("../../sql/apply_explain_generic.sql");

/// How a run behaves, resolved from the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lock_timeout: Duration,
    /// Attempts after the first one when a lock is not granted in time.
    pub lock_retries: u32,
    /// Wait before the first retry; doubles each time, at most 60 s.
    pub retry_backoff: Duration,
    pub maintenance_work_mem: Option<String>,
    pub max_parallel_maintenance_workers: Option<u32>,
    pub jobs: usize,
    pub verify: bool,
    pub analyze: bool,
    pub allow_drop: bool,
    pub server_version_num: i32,
}

/// The end of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Result_ {
    /// Built (or dropped) by this run.
    Applied,
    /// Nothing to do: already in the planned state.
    AlreadyDone,
    /// Not selected by a flag (`--allow-drop`).
    Skipped,
    /// A precondition failed; nothing was changed.
    Refused,
    /// Tried and failed (lock never granted, build error); no invalid index left.
    Failed,
    /// Interrupted by Ctrl-C; its leftover was cleaned up.
    Cancelled,
    /// Not started because the run was interrupted.
    NotStarted,
}

impl Result_ {
    pub fn as_str(self) -> &'static str {
        match self {
            Result_::Applied => "applied",
            Result_::AlreadyDone => "already done",
            Result_::Skipped => "skipped",
            Result_::Refused => "refused",
            Result_::Failed => "failed",
            Result_::Cancelled => "cancelled",
            Result_::NotStarted => "not started",
        }
    }

    /// Whether the action ended where the plan wants it (or was deliberately left out).
    pub fn is_ok(self) -> bool {
        matches!(
            self,
            Result_::Applied | Result_::AlreadyDone | Result_::Skipped
        )
    }
}

/// One evidence query planned before and after the build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replan {
    pub query: String,
    pub cost_before: Option<f64>,
    pub cost_after: Option<f64>,
    /// Whether the plan after the build uses the new index.
    pub uses_index: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub kind: ActionKind,
    pub table: String,
    pub index: String,
    pub result: Result_,
    pub message: String,
    pub duration_ms: f64,
    pub attempts: u32,
    pub size_bytes: Option<i64>,
    /// `bt_index_check` passed (`--verify`); null when not run.
    pub verified: Option<bool>,
    pub replans: Vec<Replan>,
    /// This action already ran ANALYZE (expression index).
    #[serde(skip)]
    pub analyzed: bool,
}

impl Outcome {
    pub fn new(a: &Action, result: Result_, message: String) -> Outcome {
        Outcome {
            id: a.id.clone(),
            kind: a.kind,
            table: a.table.clone(),
            index: a.index.clone(),
            result,
            message,
            duration_ms: 0.0,
            attempts: 0,
            size_bytes: None,
            verified: None,
            replans: vec![],
            analyzed: false,
        }
    }
}

/// State shared by the workers, the monitor and the Ctrl-C handler.
pub struct Shared {
    pub cancelled: AtomicBool,
    pub cancel_tx: watch::Sender<bool>,
    /// Server pid of each running build connection → action index.
    pub running: Mutex<HashMap<i32, usize>>,
    /// Blockers last seen per action, for the give-up message.
    pub blockers: Mutex<HashMap<usize, Vec<Blocker>>>,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        let (cancel_tx, _) = watch::channel(false);
        Arc::new(Shared {
            cancelled: AtomicBool::new(false),
            cancel_tx,
            running: Mutex::new(HashMap::new()),
            blockers: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _ = self.cancel_tx.send(true);
    }

    pub fn running_pids(&self) -> Vec<(i32, usize)> {
        lock(&self.running).iter().map(|(p, i)| (*p, *i)).collect()
    }

    fn last_blockers(&self, idx: usize) -> Vec<Blocker> {
        lock(&self.blockers).get(&idx).cloned().unwrap_or_default()
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Everything a worker needs.
pub struct Ctx {
    pub target: PgTarget,
    pub actions: Vec<Action>,
    pub settings: Settings,
    pub shared: Arc<Shared>,
    pub ui: Arc<Ui>,
    /// Per table: actions of this run not finished yet, and whether a build
    /// on it succeeded since its last ANALYZE. One ANALYZE after the
    /// table's last action gathers statistics for all its new indexes.
    pub tables: Mutex<HashMap<String, (usize, bool)>>,
}

impl Ctx {
    pub fn new(
        target: PgTarget,
        actions: Vec<Action>,
        settings: Settings,
        shared: Arc<Shared>,
        ui: Arc<Ui>,
        to_run: &[usize],
    ) -> Ctx {
        let mut tables: HashMap<String, (usize, bool)> = HashMap::new();
        for &i in to_run {
            tables.entry(table_key(&actions[i])).or_default().0 += 1;
        }
        Ctx {
            target,
            actions,
            settings,
            shared,
            ui,
            tables: Mutex::new(tables),
        }
    }

    /// Record that an action on `table` finished; true when it was the
    /// table's last one in this run and a build on it needs an ANALYZE.
    fn finish_on_table(&self, table: &str, built: bool) -> bool {
        let mut t = lock(&self.tables);
        let e = t.entry(table.to_string()).or_default();
        e.0 = e.0.saturating_sub(1);
        e.1 |= built;
        let due = e.0 == 0 && e.1;
        if due {
            e.1 = false;
        }
        due
    }
}

/// Run the selected actions with `settings.jobs` workers; one outcome per
/// selected action, in plan order.
pub async fn run_all(ctx: Arc<Ctx>, selected: Vec<usize>) -> Vec<Outcome> {
    let items = selected
        .iter()
        .map(|&i| (i, table_key(&ctx.actions[i])))
        .collect();
    let sched = Arc::new(Mutex::new(Scheduler::new(items)));
    let outcomes: Arc<Mutex<HashMap<usize, Outcome>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut workers = Vec::new();
    for _ in 0..ctx.settings.jobs.max(1) {
        let (ctx, sched, outcomes) = (ctx.clone(), sched.clone(), outcomes.clone());
        workers.push(tokio::spawn(async move {
            let mut session: Option<Session> = None;
            loop {
                if ctx.shared.is_cancelled() {
                    break;
                }
                let next = {
                    let mut s = lock(&sched);
                    if s.is_drained() {
                        break;
                    }
                    s.take_next()
                };
                let Some(idx) = next else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // One session per worker, reopened if the server closed it.
                if session.as_ref().is_none_or(|s| s.is_closed()) {
                    session = match open_session(&ctx).await {
                        Ok(s) => Some(s),
                        Err(e) => {
                            ctx.ui
                                .note(&format!("cannot open a build connection: {e:#}"));
                            None
                        }
                    };
                }
                let out = match &session {
                    Some(s) => run_one(&ctx, idx, Ok(s)).await,
                    None => run_one(&ctx, idx, Err("no build connection (see above)".into())).await,
                };
                lock(&outcomes).insert(idx, out);
                lock(&sched).release(&table_key(&ctx.actions[idx]));
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let mut done = lock(&outcomes);
    selected
        .iter()
        .map(|&i| {
            done.remove(&i).unwrap_or_else(|| {
                Outcome::new(
                    &ctx.actions[i],
                    Result_::NotStarted,
                    "not started: the run was interrupted".into(),
                )
            })
        })
        .collect()
}

fn table_key(a: &Action) -> String {
    preflight::action_names(a)
        .map(|(t, _)| t.quoted())
        .unwrap_or_else(|_| a.table.clone())
}

async fn run_one(ctx: &Ctx, idx: usize, session: Result<&Session, String>) -> Outcome {
    let a = &ctx.actions[idx];
    let started = Instant::now();
    let verb = match a.kind {
        ActionKind::CreateIndex => "building",
        ActionKind::DropIndex => "dropping",
    };
    ctx.ui.start(idx, &a.id, &format!("{verb} {}", a.index));
    let conn = session.map(|s| BuildConn::register(ctx, s, idx));
    let mut out = match &conn {
        Ok(conn) => match execute(ctx, idx, conn).await {
            Ok(o) => o,
            Err(e) => Outcome::new(a, Result_::Failed, format!("{e:#}")),
        },
        Err(e) => Outcome::new(a, Result_::Failed, e.clone()),
    };
    if out.result == Result_::Failed && ctx.shared.is_cancelled() {
        // Ctrl-C cancelled whatever the connection was running (a check, a
        // re-plan): that is a cancel, not a failure of the action.
        out.result = Result_::Cancelled;
    }
    let built = a.kind == ActionKind::CreateIndex && out.result == Result_::Applied;
    if ctx.finish_on_table(&table_key(a), built && !out.analyzed)
        && ctx.settings.analyze
        && let Ok(conn) = &conn
        && let Ok((table, _)) = preflight::action_names(a)
    {
        analyze(ctx, idx, conn, &table).await;
    }
    drop(conn);
    out.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    lock(&ctx.shared.blockers).remove(&idx);
    ctx.ui.finish(
        idx,
        &format!(
            "{} in {}{}",
            out.result.as_str(),
            crate::output::duration_ms(out.duration_ms),
            if out.message.is_empty() {
                String::new()
            } else {
                format!(": {}", out.message)
            }
        ),
    );
    out
}

async fn analyze(ctx: &Ctx, idx: usize, conn: &BuildConn<'_>, table: &QualifiedName) {
    ctx.ui.step(idx, &format!("ANALYZE {table}"));
    let sql = ANALYZE_SQL.replace("{table}", &table.quoted());
    if let Err(e) = conn.client.execute(sql.as_str()).await {
        ctx.ui.note(&format!(
            "warning: ANALYZE {table} failed: {}; the index is built, run ANALYZE later",
            server_error(&e)
        ));
    }
}

/// A worker's session while it runs one action: registered for progress
/// and cancel, deregistered on drop.
struct BuildConn<'a> {
    client: &'a Session,
    pid: i32,
    shared: &'a Shared,
}

impl<'a> BuildConn<'a> {
    fn register(ctx: &'a Ctx, session: &'a Session, idx: usize) -> BuildConn<'a> {
        lock(&ctx.shared.running).insert(session.pid, idx);
        BuildConn {
            client: session,
            pid: session.pid,
            shared: &ctx.shared,
        }
    }
}

impl Drop for BuildConn<'_> {
    fn drop(&mut self) {
        lock(&self.shared.running).remove(&self.pid);
    }
}

async fn set(client: &Session, name: &str, value: &str) -> Result<()> {
    client
        .query_one(SET_CONFIG_SQL, &[&name, &value])
        .await
        .with_context(|| format!("setting {name} = {value} on the build connection"))?;
    Ok(())
}

/// A worker's build connection, kept for all its actions.
async fn open_session(ctx: &Ctx) -> Result<Session> {
    // Session settings travel in the startup packet: no round trips.
    let mut config = ctx.target.config.clone();
    config.application_name("pgadvisor apply");
    let mut opts: Vec<String> = config
        .get_options()
        .map(|o| vec![o.to_string()])
        .unwrap_or_default();
    let mut setting = |name: &str, value: &str| {
        opts.push(format!("-c {name}={}", escape_option(value)));
    };
    setting(
        "lock_timeout",
        &format!("{}ms", ctx.settings.lock_timeout.as_millis().max(1)),
    );
    if ctx.settings.server_version_num >= 140000 {
        // A killed apply must not leave a build running on: the server
        // notices the closed connection and aborts (the invalid leftover is
        // dropped by the next run).
        setting("client_connection_check_interval", "1s");
    }
    if let Some(m) = &ctx.settings.maintenance_work_mem {
        setting("maintenance_work_mem", m);
    }
    if let Some(w) = ctx.settings.max_parallel_maintenance_workers {
        setting("max_parallel_maintenance_workers", &w.to_string());
    }
    config.options(opts.join(" "));
    // Clone the resolved target (TLS and the rest stay as resolved) and
    // change only its startup settings.
    let mut target = ctx.target.clone();
    target.config = config;
    Session::open(&target).await
}

/// A value for `options=-c name=value`: spaces and backslashes escaped.
fn escape_option(v: &str) -> String {
    v.replace('\\', "\\\\").replace(' ', "\\ ")
}

/// Why a statement with lock retries did not succeed.
enum DdlError {
    /// Every attempt timed out waiting for a lock.
    GaveUp {
        attempts: u32,
        blockers: Vec<Blocker>,
    },
    Cancelled,
    Failed(tokio_postgres::Error),
}

impl DdlError {
    fn message(&self, what: &str, settings: &Settings) -> String {
        match self {
            DdlError::GaveUp { attempts, blockers } => {
                let who = if blockers.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; blocked by {}",
                        blockers
                            .iter()
                            .map(super::progress::describe_blocker)
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                };
                format!(
                    "gave up {what} after {attempts} attempts: a lock was not granted within lock_timeout \
                     ({}){who}; rerun when the blocking transaction has ended, or raise --lock-timeout / --lock-retries",
                    humantime::format_duration(settings.lock_timeout)
                )
            }
            DdlError::Cancelled => format!("{what} cancelled by Ctrl-C"),
            DdlError::Failed(e) => format!("{what} failed: {}", server_error(e)),
        }
    }
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    (base * factor).min(Duration::from_secs(60))
}

/// Run one DDL statement with `lock_timeout` retries. `after_timeout` runs
/// after a lock timeout, before the wait (to drop a leftover the timeout
/// left behind).
async fn ddl_with_retries(
    ctx: &Ctx,
    idx: usize,
    conn: &BuildConn<'_>,
    sql: &str,
    leftover: Option<&QualifiedName>,
) -> std::result::Result<u32, DdlError> {
    let mut cancel_rx = ctx.shared.cancel_tx.subscribe();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if ctx.shared.is_cancelled() {
            return Err(DdlError::Cancelled);
        }
        match conn.client.execute(sql).await {
            Ok(_) => return Ok(attempt),
            Err(e) => {
                let code = e.code().cloned();
                if ctx.shared.is_cancelled() && code == Some(SqlState::QUERY_CANCELED) {
                    return Err(DdlError::Cancelled);
                }
                let retriable = code == Some(SqlState::LOCK_NOT_AVAILABLE)
                    || code == Some(SqlState::T_R_DEADLOCK_DETECTED);
                if !retriable {
                    return Err(DdlError::Failed(e));
                }
                // A timeout after the catalog entry was made leaves an invalid index.
                if let Some(name) = leftover {
                    drop_if_invalid(ctx, idx, conn, name).await;
                }
                if attempt > ctx.settings.lock_retries {
                    return Err(DdlError::GaveUp {
                        attempts: attempt,
                        blockers: ctx.shared.last_blockers(idx),
                    });
                }
                let wait = backoff(ctx.settings.retry_backoff, attempt);
                let who = ctx.shared.last_blockers(idx);
                ctx.ui.step(
                    idx,
                    &format!(
                        "{} (attempt {attempt} of {}); retrying in {}{}",
                        server_error(&e),
                        ctx.settings.lock_retries + 1,
                        humantime::format_duration(wait),
                        if who.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; blocked by {}",
                                who.iter()
                                    .map(super::progress::describe_blocker)
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            )
                        }
                    ),
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel_rx.wait_for(|c| *c) => return Err(DdlError::Cancelled),
                }
            }
        }
    }
}

/// Drop an index if it exists and is invalid (a leftover), with retries.
/// Never fails the caller: what cannot be dropped now is reported and the
/// next run drops it.
async fn drop_if_invalid(
    ctx: &Ctx,
    idx: usize,
    conn: &BuildConn<'_>,
    name: &QualifiedName,
) -> bool {
    match preflight::index(conn.client, name).await {
        Ok(Some(info)) if !info.valid => {}
        Ok(_) => return true,
        Err(e) => {
            ctx.ui.step(
                idx,
                &format!("could not check {name} for an invalid leftover: {e:#}"),
            );
            return false;
        }
    }
    drop_leftover(ctx, idx, conn, name).await
}

async fn drop_leftover(ctx: &Ctx, idx: usize, conn: &BuildConn<'_>, name: &QualifiedName) -> bool {
    ctx.ui.step(
        idx,
        &format!("dropping invalid index {name} left by an interrupted build"),
    );
    let sql = DROP_INDEX_SQL.replace("{index}", &name.quoted());
    // Cleanup must finish even after Ctrl-C, so it uses its own retry loop
    // that ignores the cancel flag.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match conn.client.execute(sql.as_str()).await {
            Ok(_) => return true,
            Err(e)
                if attempt <= ctx.settings.lock_retries
                    && e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) =>
            {
                tokio::time::sleep(backoff(ctx.settings.retry_backoff, attempt)).await;
            }
            Err(e) => {
                ctx.ui.note(&format!(
                    "warning: could not drop the invalid index {name}: {}; rerun apply to drop it",
                    server_error(&e)
                ));
                return false;
            }
        }
    }
}

async fn execute(ctx: &Ctx, idx: usize, conn: &BuildConn<'_>) -> Result<Outcome> {
    let a = &ctx.actions[idx];
    // The state may have changed since the first check (another run, a DBA).
    let verdict = preflight::check(conn.client, a, ctx.settings.allow_drop).await?;
    let leftovers = match verdict {
        Verdict::Run { leftovers } => leftovers,
        Verdict::Done(m) => return Ok(Outcome::new(a, Result_::AlreadyDone, m)),
        Verdict::Skipped(m) => return Ok(Outcome::new(a, Result_::Skipped, m)),
        Verdict::Refused(m) => return Ok(Outcome::new(a, Result_::Refused, m)),
    };
    let (table, index) = preflight::action_names(a).map_err(anyhow::Error::msg)?;
    match a.kind {
        ActionKind::DropIndex => {
            let mut out = Outcome::new(a, Result_::Applied, String::new());
            match ddl_with_retries(ctx, idx, conn, &a.ddl, None).await {
                Ok(n) => out.attempts = n,
                Err(e) => {
                    out.result = if matches!(e, DdlError::Cancelled) {
                        Result_::Cancelled
                    } else {
                        Result_::Failed
                    };
                    out.message = e.message("dropping the index", &ctx.settings);
                    // An interrupted DROP INDEX CONCURRENTLY can leave the index invalid.
                    drop_if_invalid(ctx, idx, conn, &index).await;
                }
            }
            Ok(out)
        }
        ActionKind::CreateIndex => build(ctx, idx, conn, &table, &index, leftovers).await,
    }
}

async fn build(
    ctx: &Ctx,
    idx: usize,
    conn: &BuildConn<'_>,
    table: &QualifiedName,
    index: &QualifiedName,
    leftovers: Vec<QualifiedName>,
) -> Result<Outcome> {
    let a = &ctx.actions[idx];
    let mut out = Outcome::new(a, Result_::Applied, String::new());
    for l in &leftovers {
        if !drop_leftover(ctx, idx, conn, l).await {
            out.result = Result_::Failed;
            out.message = format!(
                "an invalid index {l} from an earlier build could not be dropped; rerun when the table is not locked"
            );
            return Ok(out);
        }
    }
    let before = replan(ctx, conn, a).await;
    // statement_timeout off for the build only (a site-wide timeout would
    // kill a long build and leave an invalid index); one round trip each way.
    let saved: String = conn
        .client
        .query_one(STATEMENT_TIMEOUT_OFF_SQL, &[])
        .await
        .context(
            "turning statement_timeout off for the build (sql/apply_statement_timeout_off.sql)",
        )?
        .get(0);
    let res = ddl_with_retries(ctx, idx, conn, &a.ddl, Some(index)).await;
    set(conn.client, "statement_timeout", &saved).await?;
    match res {
        Ok(n) => out.attempts = n,
        Err(e) => {
            out.attempts = match &e {
                DdlError::GaveUp { attempts, .. } => *attempts,
                _ => 1,
            };
            out.result = if matches!(e, DdlError::Cancelled) {
                Result_::Cancelled
            } else {
                Result_::Failed
            };
            out.message = e.message("building the index", &ctx.settings);
            drop_if_invalid(ctx, idx, conn, index).await;
            return Ok(out);
        }
    }
    // The statement succeeded: it must have produced a valid, ready index
    // under the planned name, on the planned table.
    let built = preflight::index(conn.client, index).await?;
    let Some(built) = built.filter(|b| &b.table == table) else {
        out.result = Result_::Failed;
        out.message = format!(
            "the statement succeeded but there is no index {index} on {table}: the DDL in the plan \
             names another index or table; fix the action's `index`, `table` or `ddl`"
        );
        return Ok(out);
    };
    if !(built.valid && built.ready) {
        out.result = Result_::Failed;
        out.message = format!("{index} is not valid after the build (indisvalid/indisready false)");
        drop_if_invalid(ctx, idx, conn, index).await;
        return Ok(out);
    }
    out.size_bytes = Some(built.size_bytes);
    // Statistics on an expression exist only after ANALYZE, and the
    // re-plan below needs them; plain-column indexes add no statistics, so
    // their table is analyzed once after its last action (run_one).
    let expression = a
        .definition
        .as_ref()
        .is_some_and(super::names::has_expression);
    if ctx.settings.analyze && expression {
        analyze(ctx, idx, conn, table).await;
        out.analyzed = true;
    }
    if ctx.settings.verify && built.method == "btree" {
        ctx.ui.step(idx, "bt_index_check");
        let name = index.quoted();
        match conn.client.query_one(BT_INDEX_CHECK_SQL, &[&name]).await {
            Ok(_) => out.verified = Some(true),
            Err(e) => {
                out.verified = Some(false);
                out.result = Result_::Failed;
                out.message = format!("bt_index_check({index}) reported: {}", server_error(&e));
            }
        }
    }
    let after = replan(ctx, conn, a).await;
    out.replans = before
        .into_iter()
        .zip(after)
        .map(|(b, f)| Replan {
            query: b.0,
            cost_before: b.1.as_ref().ok().map(|s| s.total_cost),
            cost_after: f.1.as_ref().ok().map(|s| s.total_cost),
            uses_index: f
                .1
                .as_ref()
                .ok()
                .map(|s| s.indexes_used.contains(&index.name)),
            error: b.1.err().or(f.1.err()),
        })
        .collect();
    Ok(out)
}

type Planned = (
    String,
    std::result::Result<crate::advise::whatif::PlanSummary, String>,
);

/// Plan each evidence query of the action (never executed). Literal texts
/// and, on PostgreSQL 16+, `$n` texts (GENERIC_PLAN) are planned on the
/// build's connection; `$n` texts on older servers as a prepared statement's
/// generic plan, on a connection of their own (the what-if planner changes
/// session settings the build must not inherit).
async fn replan(ctx: &Ctx, conn: &BuildConn<'_>, a: &Action) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut generic_planner: Option<tokio_postgres::Client> = None;
    for q in &a.evidence.sql {
        let text = q.trim().trim_end_matches(';');
        let generic = crate::advise::whatif::max_placeholder(text) > 0;
        let res = if generic && ctx.settings.server_version_num < 160000 {
            if generic_planner.is_none() {
                generic_planner = ctx.target.connect().await.ok();
            }
            match &generic_planner {
                Some(client) => match crate::advise::whatif::WhatIf::planner(
                    client,
                    ctx.settings.server_version_num,
                )
                .await
                {
                    Ok(mut p) => p.plan(text).await.map_err(|e| format!("{e:#}")),
                    Err(e) => Err(format!("{e:#}")),
                },
                None => Err("could not open a connection to re-plan it".to_string()),
            }
        } else {
            let template = if generic {
                EXPLAIN_GENERIC_SQL
            } else {
                EXPLAIN_SQL
            };
            let sql = template.replace("{query}", text);
            match conn.client.query_one_text(sql.as_str()).await {
                Ok(row) => match row.try_get::<_, serde_json::Value>(0) {
                    Ok(json) => {
                        crate::advise::whatif::summarize(&json).map_err(|e| format!("{e:#}"))
                    }
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(server_error(&e)),
            }
        };
        out.push((q.clone(), res));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_secs(1);
        assert_eq!(backoff(b, 1), Duration::from_secs(1));
        assert_eq!(backoff(b, 2), Duration::from_secs(2));
        assert_eq!(backoff(b, 4), Duration::from_secs(8));
        assert_eq!(backoff(b, 30), Duration::from_secs(60));
    }
}
