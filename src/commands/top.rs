//! `pgadvisor top`: where the time goes. Reads a workload (live
//! pg_stat_statements, an export, server logs, or the delta since a
//! snapshot), groups it into query shapes and prints the biggest.
//! JSON output is documented in docs/top.md and is stable.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::intake::{self, Source, SourceArgs, Workload};
use crate::output::{self, Format};
use crate::shapes::{self, GroupOptions, QueryShape, Selection, SortKey};

/// What `--merge` folds together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Merge {
    /// One row per shape across roles.
    Users,
    /// One row per shape across databases.
    Databases,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Order by total time, mean time, calls, rows, I/O (block time, then
    /// blocks read) or temp blocks.
    #[arg(long, value_enum, default_value_t)]
    pub sort: SortKey,
    /// Show at most this many shapes (0: all).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Leave out shapes called fewer times than this.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub min_calls: i64,
    /// Fold the same query shape across users and/or databases
    /// (default: one row per shape, user and database).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "users,databases"
    )]
    pub merge: Vec<Merge>,
    /// Only statements run in this database.
    #[arg(long, value_name = "NAME")]
    pub only_db: Option<String>,
    /// Only statements run by this role.
    #[arg(long, value_name = "NAME")]
    pub only_user: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// The stable JSON document of `top --format json` (docs/top.md).
#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub source: Source,
    pub captured_at: Option<String>,
    pub server_version_num: Option<i32>,
    pub sort: SortKey,
    pub group_by: Vec<&'static str>,
    pub totals: Totals,
    pub shapes: Vec<ShapeRow>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    /// Shapes in the workload (before --limit and --min-calls).
    pub shapes: usize,
    /// Statement rows (pg_stat_statements entries or log aggregates) read.
    pub statements: usize,
    pub calls: i64,
    pub total_exec_time_ms: f64,
    /// Log samples read (0 for pg_stat_statements sources).
    pub samples: usize,
}

#[derive(Debug, Serialize)]
pub struct ShapeRow {
    pub rank: usize,
    pub fingerprint: String,
    pub queryids: Vec<i64>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub calls: i64,
    pub total_exec_time_ms: f64,
    pub mean_exec_time_ms: f64,
    pub min_exec_time_ms: f64,
    pub max_exec_time_ms: f64,
    pub pct_total_time: f64,
    pub total_plan_time_ms: f64,
    pub rows: i64,
    pub rows_per_call: f64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_hit_ratio: Option<f64>,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    pub io_time_ms: f64,
    pub normalized: String,
    pub query: String,
    pub fallback: bool,
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

impl ShapeRow {
    fn new(rank: usize, s: &QueryShape) -> ShapeRow {
        ShapeRow {
            rank,
            fingerprint: s.fingerprint.to_string(),
            queryids: s.queryids.clone(),
            user: s.user.clone(),
            database: s.database.clone(),
            calls: s.calls,
            total_exec_time_ms: round(s.total_exec_time, 3),
            mean_exec_time_ms: round(s.mean_exec_time, 3),
            min_exec_time_ms: round(s.min_exec_time, 3),
            max_exec_time_ms: round(s.max_exec_time, 3),
            pct_total_time: round(s.pct_total_time, 2),
            total_plan_time_ms: round(s.total_plan_time, 3),
            rows: s.rows,
            rows_per_call: round(s.rows_per_call(), 2),
            shared_blks_hit: s.shared_blks_hit,
            shared_blks_read: s.shared_blks_read,
            shared_hit_ratio: s.hit_ratio().map(|r| round(r, 4)),
            temp_blks_read: s.temp_blks_read,
            temp_blks_written: s.temp_blks_written,
            io_time_ms: round(s.io_time, 3),
            normalized: s.normalized.clone(),
            query: s.query.clone(),
            fallback: s.fallback,
        }
    }
}

/// Keep only the statements the `--only-*` filters name.
fn filter(workload: &mut Workload, db: Option<&str>, user: Option<&str>) {
    workload.statements.retain(|s| {
        db.is_none_or(|d| s.database.as_deref() == Some(d))
            && user.is_none_or(|u| s.user.as_deref() == Some(u))
    });
    workload.samples.retain(|s| {
        db.is_none_or(|d| s.database.as_deref() == Some(d))
            && user.is_none_or(|u| s.user.as_deref() == Some(u))
    });
}

/// Build the report from a loaded workload (no I/O: unit-testable).
pub fn report(mut workload: Workload, args: &Args) -> Report {
    filter(
        &mut workload,
        args.only_db.as_deref(),
        args.only_user.as_deref(),
    );
    let opts = GroupOptions {
        merge_users: args.merge.contains(&Merge::Users),
        merge_databases: args.merge.contains(&Merge::Databases),
    };
    let all = shapes::group(&workload.statements, &opts);
    let totals = Totals {
        shapes: all.len(),
        statements: workload.statements.len(),
        calls: workload.statements.iter().map(|s| s.calls).sum(),
        total_exec_time_ms: round(
            workload.statements.iter().map(|s| s.total_exec_time).sum(),
            3,
        ),
        samples: workload.samples.len(),
    };
    let shown = shapes::select(
        all,
        &Selection {
            sort: args.sort,
            limit: args.limit,
            min_calls: args.min_calls,
        },
    );
    let mut group_by = vec!["fingerprint"];
    if !opts.merge_users {
        group_by.push("user");
    }
    if !opts.merge_databases {
        group_by.push("database");
    }
    Report {
        version: 1,
        source: workload.source,
        captured_at: workload.captured_at,
        server_version_num: workload.server_version_num,
        sort: args.sort,
        group_by,
        totals,
        shapes: shown
            .iter()
            .enumerate()
            .map(|(i, s)| ShapeRow::new(i + 1, s))
            .collect(),
    }
}

fn sort_label(key: SortKey) -> &'static str {
    match key {
        SortKey::Total => "total time",
        SortKey::Mean => "mean time",
        SortKey::Calls => "calls",
        SortKey::Rows => "rows",
        SortKey::Io => "I/O",
        SortKey::Temp => "temp blocks",
    }
}

/// Render the report as the human table.
pub fn render_table<W: Write>(out: &mut W, r: &Report) -> Result<()> {
    writeln!(
        out,
        "{} workload from {}: {} shapes, {} calls, {} total execution time",
        r.source.kind,
        r.source.location,
        r.totals.shapes,
        r.totals.calls,
        output::duration_ms(r.totals.total_exec_time_ms)
    )?;
    if r.shapes.is_empty() {
        writeln!(out, "no statements matched")?;
        return Ok(());
    }
    writeln!(
        out,
        "top {} by {}{}",
        r.shapes.len(),
        sort_label(r.sort),
        if r.group_by.len() == 3 {
            String::new()
        } else {
            format!(" (grouped by {})", r.group_by.join(", "))
        }
    )?;
    let mut t = output::table(&[
        "#",
        "calls",
        "total",
        "mean",
        "max",
        "% time",
        "rows/call",
        "hit %",
        "temp blks",
        "user",
        "database",
        "query",
    ]);
    for s in &r.shapes {
        t.add_row(vec![
            s.rank.to_string(),
            s.calls.to_string(),
            output::duration_ms(s.total_exec_time_ms),
            output::duration_ms(s.mean_exec_time_ms),
            output::duration_ms(s.max_exec_time_ms),
            format!("{:.1}", s.pct_total_time),
            format!("{:.1}", s.rows_per_call),
            s.shared_hit_ratio
                .map(|h| format!("{:.1}", h * 100.0))
                .unwrap_or_else(|| "-".into()),
            (s.temp_blks_read + s.temp_blks_written).to_string(),
            s.user.clone().unwrap_or_else(|| "*".into()),
            s.database.clone().unwrap_or_else(|| "*".into()),
            output::shorten(&s.normalized, 90),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    let workload = intake::load(&args.source).await?;
    let report = report(workload, &args);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Table => render_table(&mut out, &report)?,
        Format::Json => output::write_json(&mut out, &report)?,
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}
