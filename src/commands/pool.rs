//! `pgadvisor pool`: sample connection use for a window and propose pool
//! sizes for every layer (docs/pool.md). This file resolves the flags,
//! runs the I/O in order (settings, pg_stat_statements and PgBouncer
//! counters before, the sampling loop, counters after) and renders the
//! report; the arithmetic lives in `crate::pool`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::conn::ConnArgs;
use crate::exit::ExitStatus;
use crate::intake::{pgss_live, snapshot};
use crate::output::{self, Format};
use crate::pool::host::{self, Cpus};
use crate::pool::pgbouncer::Console;
use crate::pool::report::{self, Instances, Measured, PgBouncerMeasured, Report};
use crate::pool::sampler::{self, Plan};
use crate::pool::sizing::Formula;
use crate::pool::stats::{self, Distribution};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// How long to sample (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Time between two samples of pg_stat_activity (e.g. 100ms, 1s).
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Physical CPU cores of the database host. Default: read on this host
    /// when the server is local (Unix socket or loopback address); unknown otherwise.
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,
    /// Effective spindle count in `cores × 2 + effective_spindles`: 0 when
    /// the active data set is cached, up to the number of disks when reads
    /// go to disk.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub spindles: u32,
    /// Application instances that share the database: N for every
    /// application, or APP=N for one application_name (repeatable).
    #[arg(long, value_name = "N|APP=N")]
    pub instances: Vec<String>,
    /// PgBouncer's admin console (postgres://user@host:6432/pgbouncer):
    /// also sample SHOW POOLS and measure SHOW STATS over the window.
    #[arg(long, value_name = "URL")]
    pub pgbouncer: Option<String>,
    /// Warn about sessions idle in a transaction at least this long.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub idle_tx_threshold: Duration,
    /// Only connections and statements in this database (the server-wide
    /// connection counts against max_connections stay server-wide).
    #[arg(long, value_name = "NAME")]
    pub only_db: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The --pgbouncer URL may hold a password: show only whether one was given.
        f.debug_struct("Args")
            .field("conn", &self.conn)
            .field("duration", &self.duration)
            .field("interval", &self.interval)
            .field("cpus", &self.cpus)
            .field("spindles", &self.spindles)
            .field("instances", &self.instances)
            .field("pgbouncer", &self.pgbouncer.as_ref().map(|_| "(given)"))
            .field("idle_tx_threshold", &self.idle_tx_threshold)
            .field("only_db", &self.only_db)
            .field("format", &self.format)
            .finish()
    }
}

/// `--instances` values: `N` (every application) and `APP=N`.
pub fn parse_instances(values: &[String]) -> Result<Instances> {
    let mut out = Instances {
        default: 1,
        per_app: BTreeMap::new(),
    };
    for v in values {
        let parse_n = |s: &str| -> Result<u32> {
            match s.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => bail!(
                    "--instances {v}: expected a whole number of application instances, 1 or \
                     more (e.g. --instances 4 or --instances api=4)"
                ),
            }
        };
        match v.rsplit_once('=') {
            Some((app, n)) => {
                out.per_app.insert(app.to_string(), parse_n(n)?);
            }
            None => out.default = parse_n(v)?,
        }
    }
    Ok(out)
}

fn validate(args: &Args) -> Result<()> {
    if args.interval < Duration::from_millis(10) {
        bail!(
            "--interval {} is too short: sample at most every 10ms (the default 100ms is fine \
             grained enough for pool sizing)",
            humantime::format_duration(args.interval)
        );
    }
    if args.duration < args.interval {
        bail!(
            "--duration {} is shorter than --interval {}: sample for longer (e.g. --duration \
             30s) so the window holds several samples",
            humantime::format_duration(args.duration),
            humantime::format_duration(args.interval)
        );
    }
    if args.cpus == Some(0) {
        bail!("--cpus 0: give the database host's number of physical CPU cores (1 or more)");
    }
    Ok(())
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    validate(&args)?;
    let instances = parse_instances(&args.instances)?;
    let target = args.conn.resolve()?;
    let client = target.connect().await?;
    let settings = sampler::read_settings(&client, &target.display).await?;
    let mut notes = Vec::new();

    let cpus = match args.cpus {
        Some(n) => Some(Cpus {
            count: n,
            source: "flag".into(),
            detail: format!("--cpus {n}"),
        }),
        None if host::is_local(&target.config) => {
            let found = host::local_cores();
            if found.is_none() {
                notes.push(
                    "the server is on this host but its cores could not be read (no \
                     /proc/cpuinfo, no CPU count): pass --cpus N"
                        .into(),
                );
            }
            found
        }
        None => None,
    };

    let console = match &args.pgbouncer {
        Some(url) => Some(Console::connect(url, args.conn.connect_timeout).await?),
        None => None,
    };
    // pg_stat_statements is read on connections of its own; their
    // backends (which can outlive the client by a few milliseconds) are
    // recognised by start time and left out of the samples.
    let clock = sampler::server_clock(&client, &target.display).await?;
    let pgss_before = match pgss_live::read(&args.conn).await {
        Ok(set) => Some(set),
        Err(e) => {
            notes.push(format!(
                "no Little's law from pg_stat_statements (only the sampled concurrency is \
                 used): {e:#}"
            ));
            None
        }
    };

    // PgBouncer's counters are read last before the window and first
    // after it, each on the open console, so their window is the time
    // between the two reads.
    let pgb_before = match &console {
        Some(c) => Some((
            c.settings().await?,
            c.databases().await?,
            c.stats().await?,
            Instant::now(),
        )),
        None => None,
    };

    let exclude_pids = match target.config.get_application_name() {
        Some(app) => sampler::own_backends(&client, &target.display, app, &clock).await?,
        None => Vec::new(),
    };
    let plan = Plan {
        duration: args.duration,
        interval: args.interval,
        scope_db: args.only_db.clone(),
        exclude_pids,
    };
    let scope_text = args
        .only_db
        .as_deref()
        .map(|d| format!(", database {d} only"))
        .unwrap_or_default();
    let bar = if output::stderr_is_terminal() {
        let bar = indicatif::ProgressBar::new(args.duration.as_millis() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "sampling {msg} [{bar:30}] {elapsed}/{duration}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!("{}{scope_text}", target.display));
        Some(bar)
    } else {
        eprintln!(
            "sampling pg_stat_activity on {}{scope_text} every {} for {}…",
            target.display,
            humantime::format_duration(args.interval),
            humantime::format_duration(args.duration)
        );
        None
    };
    let window_start = Instant::now();
    let sampled = sampler::sample(
        &client,
        &target.display,
        console.as_ref(),
        &plan,
        |elapsed, _| {
            if let Some(b) = &bar {
                b.set_position(elapsed.as_millis() as u64);
            }
        },
    )
    .await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let sampled = sampled?;
    let window_s = window_start.elapsed().as_secs_f64();
    let pgb_after = match &console {
        Some(c) => Some((c.stats().await?, Instant::now())),
        None => None,
    };

    let throughput = match pgss_before {
        Some(before) => match pgss_live::read(&args.conn).await {
            Ok(after) => {
                let delta = snapshot::delta(&before, &after, Path::new("the start of the window"));
                // The counters' own window (server clock at each read), else ours.
                let pgss_window_s = stats::server_window_s(
                    before.captured_at.as_deref(),
                    after.captured_at.as_deref(),
                )
                .unwrap_or(window_s);
                stats::throughput(
                    &delta.rows,
                    pgss_window_s,
                    args.only_db.as_deref(),
                    sampler::is_own_statement,
                )
            }
            Err(e) => {
                notes.push(format!(
                    "no Little's law from pg_stat_statements: the second read failed: {e:#}"
                ));
                None
            }
        },
        None => None,
    };
    let pgbouncer = match (&console, pgb_before, pgb_after, sampled.pools) {
        (Some(c), Some((settings, databases, before, t0)), Some((after, t1)), Some(pools)) => {
            Some(PgBouncerMeasured {
                console: c.display.clone(),
                clients: pools.clients(),
                pools: pools.finish(&databases, &settings),
                throughput: crate::pool::pgbouncer::throughput(
                    &before,
                    &after,
                    t1.duration_since(t0).as_secs_f64(),
                    args.only_db.as_deref(),
                ),
                settings,
                databases,
            })
        }
        _ => None,
    };

    let report = report::build(Measured {
        target: target.display.clone(),
        scope_database: args.only_db.clone(),
        duration_s: args.duration.as_secs_f64(),
        elapsed_s: sampled.elapsed.as_secs_f64(),
        interval_ms: args.interval.as_secs_f64() * 1000.0,
        stopped_early: sampled.stopped_early,
        settings,
        cpus,
        effective_spindles: args.spindles,
        instances,
        idle_tx_threshold_s: args.idle_tx_threshold.as_secs_f64(),
        activity: sampled.activity.finish(),
        throughput,
        pgbouncer,
        notes,
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Table => render_table(&mut out, &report)?,
        Format::Json => output::write_json(&mut out, &report)?,
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

fn dist_row(label: &str, d: &Distribution) -> Vec<String> {
    vec![
        label.to_string(),
        d.p50.to_string(),
        d.p95.to_string(),
        d.p99.to_string(),
        d.max.to_string(),
        format!("{:.2}", d.mean),
    ]
}

fn formula_row(step: &str, f: &Formula) -> Vec<String> {
    vec![
        step.to_string(),
        f.formula.clone(),
        f.expression.clone(),
        f.value.to_string(),
    ]
}

fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// Render the report as tables and snippets.
pub fn render_table<W: Write>(out: &mut W, r: &Report) -> Result<()> {
    let scope = r
        .scope_database
        .as_deref()
        .map(|d| format!(", database {d} only"))
        .unwrap_or_default();
    writeln!(
        out,
        "pool: {} sampled for {:.1} s every {} ms ({} samples){scope}",
        r.target, r.window.elapsed_s, r.window.interval_ms, r.window.samples
    )?;
    let l = &r.limits;
    let others: Vec<String> = l
        .other_backends
        .iter()
        .map(|o| format!("{} {}", o.backend_type, o.max))
        .collect();
    writeln!(
        out,
        "server: max_connections {} − superuser_reserved_connections {} − reserved_connections \
         {} = {} usable; client connections now {} ({} backends in all), max {} in the \
         window{}",
        l.max_connections,
        l.superuser_reserved_connections,
        l.reserved_connections
            .map(|v| v.to_string())
            .unwrap_or_else(|| "- (before PostgreSQL 16)".into()),
        l.usable,
        l.client_connections_now,
        l.backends_now,
        l.client_connections.max,
        if others.is_empty() {
            String::new()
        } else {
            format!(
                "; other backends (not counted against max_connections): {}",
                others.join(", ")
            )
        }
    )?;
    match &r.cpus {
        Some(c) => writeln!(out, "cpus: {} ({})", c.count, c.detail)?,
        None => writeln!(
            out,
            "cpus: unknown (the server is not on this host; pass --cpus N)"
        )?,
    }

    writeln!(out, "\nConcurrent client connections per sample{scope}")?;
    let mut t = output::table(&["connections", "p50", "p95", "p99", "max", "mean"]);
    t.add_row(dist_row("active", &r.active));
    t.add_row(dist_row("busy (active + idle in transaction)", &r.busy));
    t.add_row(dist_row("idle", &r.states.idle));
    t.add_row(dist_row(
        "idle in transaction",
        &r.states.idle_in_transaction,
    ));
    t.add_row(dist_row(
        "active, waiting on a lock",
        &r.states.waiting_lock,
    ));
    t.add_row(dist_row(
        "active, waiting on another event",
        &r.states.waiting_other,
    ));
    if r.states.hidden.max > 0 {
        t.add_row(dist_row("state hidden from this role", &r.states.hidden));
    }
    t.add_row(dist_row("all", &r.connections));
    writeln!(out, "{t}")?;
    if !r.wait_events.is_empty() {
        let events: Vec<String> = r
            .wait_events
            .iter()
            .take(5)
            .map(|e| format!("{} {}", e.event, pct(e.share_of_active)))
            .collect();
        writeln!(
            out,
            "wait events of active connections: {}",
            events.join(", ")
        )?;
    }

    if !r.applications.is_empty() {
        writeln!(out, "\nApplications")?;
        let mut t = output::table(&[
            "application",
            "user",
            "database",
            "conns max",
            "active p50",
            "active p95",
            "active max",
            "busy p95",
            "idle in tx max",
            "client hosts",
        ]);
        for g in &r.applications {
            t.add_row(vec![
                g.key.app_label().to_string(),
                g.key.user.clone(),
                g.key.database.clone(),
                g.connections.max.to_string(),
                g.active.p50.to_string(),
                g.active.p95.to_string(),
                g.active.max.to_string(),
                g.busy.p95.to_string(),
                g.idle_in_transaction.max.to_string(),
                g.client_hosts.to_string(),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    if !r.idle_in_transaction.sessions.is_empty() {
        writeln!(
            out,
            "\nIdle in transaction for {} s or more",
            r.idle_in_transaction.threshold_s
        )?;
        let mut t = output::table(&[
            "pid",
            "application",
            "user",
            "database",
            "idle",
            "transaction age",
            "still open",
            "last statement",
        ]);
        for s in &r.idle_in_transaction.sessions {
            t.add_row(vec![
                s.pid.to_string(),
                s.application_name.clone(),
                s.user.clone(),
                s.database.clone(),
                output::duration_ms(s.idle_s * 1000.0),
                output::duration_ms(s.transaction_age_s * 1000.0),
                if s.open_at_end { "yes" } else { "no" }.to_string(),
                output::shorten(&s.query, 60),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    if let Some(tp) = &r.throughput {
        writeln!(
            out,
            "\nThroughput over {:.1} s (pg_stat_statements delta, top-level statements)",
            tp.window_s
        )?;
        let mut t = output::table(&[
            "calls",
            "calls/s (λ)",
            "mean exec (W)",
            "mean plan",
            "L = λ × W",
        ]);
        t.add_row(vec![
            tp.calls.to_string(),
            format!("{:.1}", tp.calls_per_s),
            output::duration_ms(tp.mean_exec_time_ms),
            output::duration_ms(tp.mean_plan_time_ms),
            format!("{:.2}", tp.concurrency),
        ]);
        writeln!(out, "{t}")?;
    }

    if let Some(b) = &r.pgbouncer {
        writeln!(
            out,
            "\nPgBouncer at {}: clients (cl_active + cl_waiting) p50 {}, p95 {}, max {}",
            b.console, b.clients.p50, b.clients.p95, b.clients.max
        )?;
        let mut t = output::table(&[
            "database",
            "user",
            "mode",
            "pool_size",
            "sv_active p95",
            "sv_active max",
            "cl_active p95",
            "cl_waiting max",
            "samples waiting",
            "max wait",
        ]);
        for p in &b.pools {
            t.add_row(vec![
                p.database.clone(),
                p.user.clone(),
                p.pool_mode.clone().unwrap_or_else(|| "-".into()),
                p.pool_size
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                p.sv_active.p95.to_string(),
                p.sv_active.max.to_string(),
                p.cl_active.p95.to_string(),
                p.cl_waiting.max.to_string(),
                pct(p.waiting_share),
                output::duration_ms(p.max_wait_ms),
            ]);
        }
        writeln!(out, "{t}")?;
        if let Some(tp) = &b.throughput {
            writeln!(
                out,
                "transactions: {:.1}/s (λ), mean {} each (W, from the client's first query), \
                 {} of it waiting for a server; L = λ × W = {:.2} clients in transactions, \
                 {:.2} waiting on average",
                tp.transactions_per_s,
                output::duration_ms(tp.mean_transaction_time_ms),
                output::duration_ms(tp.mean_wait_per_transaction_ms),
                tp.concurrency,
                tp.waiting
            )?;
        }
    }

    let p = &r.proposal;
    writeln!(out, "\nProposal")?;
    let mut t = output::table(&["step", "formula", "with the inputs", "value"]);
    if let Some(l) = &p.server_limit {
        t.add_row(formula_row("server limit", l));
    }
    t.add_row(formula_row("demand", &p.demand));
    t.add_row(formula_row("target active connections", &p.target_active));
    if let Some(s) = &p.spare {
        t.add_row(formula_row("spare for bursts", s));
    }
    t.add_row(formula_row("usable slots", &p.usable_connections));
    writeln!(out, "{t}")?;
    let mut t = output::table(&[
        "application",
        "user",
        "database",
        "instances",
        "share",
        "pool",
        "overflow",
        "max per instance",
        "total",
    ]);
    for a in &p.applications {
        t.add_row(vec![
            a.key.app_label().to_string(),
            a.key.user.clone(),
            a.key.database.clone(),
            a.instances.to_string(),
            format!("{:.2}", a.share),
            a.pool_size.to_string(),
            a.overflow.to_string(),
            a.max_size.to_string(),
            a.total.to_string(),
        ]);
    }
    if !p.applications.is_empty() {
        writeln!(out, "{t}")?;
    }
    writeln!(
        out,
        "total: {} connections of {} usable ({:.1}%)",
        p.total_connections, p.usable_connections.value, p.pct_of_usable
    )?;
    let b = &p.pgbouncer;
    writeln!(
        out,
        "PgBouncer: {}: {}",
        match (r.pgbouncer.is_some(), b.recommended) {
            (true, _) => "in use, layout below",
            (false, true) => "recommended",
            (false, false) => "not needed",
        },
        b.reason
    )?;
    if b.recommended || r.pgbouncer.is_some() {
        let mut t = output::table(&["pgbouncer setting", "formula", "with the inputs", "value"]);
        t.add_row(vec![
            "pool_mode".into(),
            "-".into(),
            "-".into(),
            b.pool_mode.clone(),
        ]);
        t.add_row(formula_row("default_pool_size", &b.default_pool_size));
        t.add_row(formula_row("reserve_pool_size", &b.reserve_pool_size));
        t.add_row(formula_row("max_client_conn", &b.max_client_conn));
        writeln!(out, "{t}")?;
    }

    if !r.warnings.is_empty() {
        writeln!(out, "\nWarnings ({})", r.warnings.len())?;
        for w in &r.warnings {
            writeln!(out, "- [{}] {}", w.id, w.message)?;
            writeln!(out, "  help: {}", w.help)?;
        }
    }
    if !r.notes.is_empty() {
        writeln!(out, "\nNotes")?;
        for n in &r.notes {
            writeln!(out, "- {n}")?;
        }
    }

    writeln!(out, "\nConfiguration")?;
    if r.snippets.applications.is_empty() {
        writeln!(
            out,
            "no client connections in scope during the window: no application pool to size"
        )?;
    }
    for s in &r.snippets.applications {
        let who = format!(
            "{} (user {}, database {})",
            if s.application_name.is_empty() {
                "(no application_name)"
            } else {
                &s.application_name
            },
            s.user,
            s.database
        );
        writeln!(out, "\ndeadpool-postgres, {who}:\n")?;
        write!(out, "{}", indent(&s.snippets.deadpool_postgres))?;
        writeln!(out, "\nSQLAlchemy, {who}:\n")?;
        write!(out, "{}", indent(&s.snippets.sqlalchemy))?;
        writeln!(out, "\nHikariCP (hikari.properties), {who}:\n")?;
        write!(out, "{}", indent(&s.snippets.hikaricp))?;
    }
    if b.recommended || r.pgbouncer.is_some() {
        writeln!(out, "\nPgBouncer (pgbouncer.ini):\n")?;
        write!(out, "{}", indent(&r.snippets.pgbouncer))?;
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A window with two applications, a session idle in a transaction and
    /// pg_stat_statements throughput, on 4 given cores.
    fn sample_report() -> Report {
        use crate::pool::report::Measured;
        use crate::pool::sampler::ServerSettings;
        use crate::pool::stats::{Accumulator, Backend, Throughput};
        let backend = |pid: i32, app: &str, state: &str| Backend {
            pid,
            backend_type: "client backend".into(),
            state: Some(state.into()),
            application_name: app.into(),
            user: Some("app".into()),
            database: Some("shop".into()),
            client_addr: Some(format!("10.0.0.{}", pid % 2)),
            ..Backend::default()
        };
        let mut acc = Accumulator::new(None);
        for i in 0..20 {
            let mut s: Vec<Backend> = (1..=6)
                .map(|p| backend(p, "api", if p <= 3 + i % 2 { "active" } else { "idle" }))
                .collect();
            s.push(backend(7, "worker", "active"));
            let mut batch = backend(8, "batch", "idle in transaction");
            batch.state_age_s = Some(20.0 + f64::from(i) / 10.0);
            batch.xact_age_s = Some(25.0 + f64::from(i) / 10.0);
            batch.query = Some("UPDATE jobs SET state = 'running' WHERE id = 42".into());
            s.push(batch);
            s.push(Backend {
                pid: 99,
                backend_type: "walsender".into(),
                ..Backend::default()
            });
            acc.add(&s);
        }
        report::build(Measured {
            target: "app@db1:5432/shop".into(),
            scope_database: None,
            duration_s: 2.0,
            elapsed_s: 2.0,
            interval_ms: 100.0,
            stopped_early: false,
            settings: ServerSettings {
                server_version_num: 160004,
                max_connections: 200,
                superuser_reserved_connections: 3,
                reserved_connections: Some(2),
                max_worker_processes: 8,
                max_wal_senders: 10,
                autovacuum_max_workers: 3,
                idle_in_transaction_session_timeout: "0".into(),
                read_all_stats: true,
                role: "monitor".into(),
            },
            cpus: Some(Cpus {
                count: 4,
                source: "flag".into(),
                detail: "--cpus 4".into(),
            }),
            effective_spindles: 1,
            instances: parse_instances(&["2".to_string(), "batch=1".to_string()]).unwrap(),
            idle_tx_threshold_s: 10.0,
            activity: acc.finish(),
            throughput: Some(Throughput {
                window_s: 2.0,
                statements: 12,
                calls: 1000,
                calls_per_s: 500.0,
                mean_exec_time_ms: 8.0,
                mean_plan_time_ms: 0.1,
                concurrency: 4.05,
                by_database: Vec::new(),
            }),
            pgbouncer: None,
            notes: Vec::new(),
        })
    }

    #[test]
    fn table_report() {
        let r = sample_report();
        let mut out = Vec::new();
        render_table(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        // The proposal rows and the snippets carry the same numbers.
        for a in &r.proposal.applications {
            assert!(
                text.contains(&format!("pool_size={},", a.pool_size)),
                "{text}"
            );
            assert!(
                text.contains(&format!("PoolConfig::new({})", a.max_size)),
                "{text}"
            );
        }
        insta::assert_snapshot!("pool_table", text);
    }

    #[test]
    fn json_report() {
        let r = sample_report();
        let mut out = Vec::new();
        output::write_json(&mut out, &r).unwrap();
        insta::assert_snapshot!("pool_json", String::from_utf8(out).unwrap());
    }

    #[test]
    fn instances_default_and_per_application() {
        let i = parse_instances(&strings(&["3", "api=6", "x=y=2"])).unwrap();
        assert_eq!(i.default, 3);
        assert_eq!(i.for_app("api"), 6);
        assert_eq!(i.for_app("x=y"), 2);
        assert_eq!(i.for_app("other"), 3);
        assert_eq!(parse_instances(&[]).unwrap().for_app("a"), 1);
        for bad in ["0", "api=0", "many", "api="] {
            let err = parse_instances(&strings(&[bad])).unwrap_err().to_string();
            assert!(err.contains("--instances"), "{bad}: {err}");
        }
    }
}
