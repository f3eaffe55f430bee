//! `pgadvisor snapshot save FILE` / `snapshot show FILE`: keep
//! pg_stat_statements counters so `top --since FILE` can show what
//! happened after (docs/snapshot.md).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::conn::ConnArgs;
use crate::exit::ExitStatus;
use crate::intake::{pgss_export, pgss_live, snapshot};
use crate::output::{self, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Save the current pg_stat_statements counters to FILE.
    Save(SaveArgs),
    /// Describe a snapshot file.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Where to write the snapshot (JSON).
    pub file: PathBuf,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Take the counters from a pg_stat_statements export instead of the
    /// live server.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct Summary {
    file: String,
    format_version: u32,
    captured_at: Option<String>,
    server_version_num: Option<i32>,
    source: crate::intake::Source,
    entries: usize,
    calls: i64,
    total_exec_time_ms: f64,
    databases: Vec<String>,
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    match args.action {
        Action::Save(a) => save(a).await,
        Action::Show(a) => show(a),
    }
}

async fn save(a: SaveArgs) -> Result<ExitStatus> {
    if a.file.exists() && !a.force {
        bail!(
            "{} already exists: pass --force to replace it, or choose another file name \
             (snapshots are baselines; overwriting one loses the window it starts).",
            a.file.display()
        );
    }
    let set = match &a.stats {
        Some(p) => pgss_export::read_file(p)?,
        None => pgss_live::read(&a.conn).await?,
    };
    snapshot::write_file(&set, &a.file)?;
    let calls: i64 = set.rows.iter().map(|r| r.stat.calls).sum();
    writeln!(
        std::io::stdout().lock(),
        "saved {} pg_stat_statements entries ({calls} calls) from {} to {}{}",
        set.rows.len(),
        set.source.location,
        a.file.display(),
        set.captured_at
            .as_deref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default()
    )?;
    Ok(ExitStatus::Success)
}

fn show(a: ShowArgs) -> Result<ExitStatus> {
    let set = snapshot::read_file(&a.file)?;
    let mut databases: Vec<String> = set
        .rows
        .iter()
        .filter_map(|r| r.stat.database.clone())
        .collect();
    databases.sort();
    databases.dedup();
    let summary = Summary {
        file: a.file.display().to_string(),
        format_version: snapshot::VERSION,
        captured_at: set.captured_at.clone(),
        server_version_num: set.server_version_num,
        source: set.source.clone(),
        entries: set.rows.len(),
        calls: set.rows.iter().map(|r| r.stat.calls).sum(),
        total_exec_time_ms: set.rows.iter().map(|r| r.stat.total_exec_time).sum(),
        databases,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Json => output::write_json(&mut out, &summary)?,
        Format::Table => {
            let mut t = output::table(&["field", "value"]);
            t.add_row(vec!["file".to_string(), summary.file.clone()]);
            t.add_row(vec![
                "captured at".to_string(),
                summary.captured_at.clone().unwrap_or_else(|| "-".into()),
            ]);
            t.add_row(vec![
                "server version".to_string(),
                summary
                    .server_version_num
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]);
            t.add_row(vec!["entries".to_string(), summary.entries.to_string()]);
            t.add_row(vec!["calls".to_string(), summary.calls.to_string()]);
            t.add_row(vec![
                "total execution time".to_string(),
                output::duration_ms(summary.total_exec_time_ms),
            ]);
            t.add_row(vec!["databases".to_string(), summary.databases.join(", ")]);
            writeln!(out, "{t}")?;
        }
    }
    Ok(ExitStatus::Success)
}
