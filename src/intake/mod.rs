//! Intake: getting a real workload into plain structs. Sources are
//! pg_stat_statements (live, CSV/JSON export, snapshot delta), server logs
//! (stderr, csvlog, jsonlog) and SQL files. Everything downstream (top,
//! check, advise) works on [`Workload`] and never on a source format.

use serde::{Deserialize, Serialize};

/// One row of pg_stat_statements (or an aggregate built from log lines),
/// with column names as PostgreSQL 17 spells them. Times are milliseconds.
/// Counters absent from a source (older server, log-derived rows) are 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementStat {
    /// pg_stat_statements' own queryid, when the row came from a server.
    pub queryid: Option<i64>,
    /// Role name, or the numeric userid as text when only that is known.
    pub user: Option<String>,
    /// Database name, or the numeric dbid as text when only that is known.
    pub database: Option<String>,
    /// The query text as the source gave it (normalized `$n` form for
    /// pg_stat_statements, literal text for logs and SQL files).
    pub query: String,
    pub calls: i64,
    pub total_exec_time: f64,
    pub min_exec_time: f64,
    pub max_exec_time: f64,
    pub mean_exec_time: f64,
    pub stddev_exec_time: f64,
    pub total_plan_time: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub local_blks_hit: i64,
    pub local_blks_read: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    /// Time spent reading/writing blocks (blk_read_time + blk_write_time,
    /// or shared_/local_/temp_ variants on PostgreSQL 17+), when
    /// track_io_timing is on.
    pub io_time: f64,
    pub wal_bytes: i64,
}

/// A literal-valued sample of a query: a log line or a SQL file statement.
/// Samples carry what pg_stat_statements hides (the constants), which
/// partial-index advice and EXPLAIN ANALYZE need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuerySample {
    /// Statement text; for extended-protocol log lines, with `$n` placeholders.
    pub text: String,
    /// Bind parameters from a log's `parameters: $1 = '…'` detail, in order, SQL-literal text.
    pub params: Vec<String>,
    /// Duration reported by the log line, in milliseconds.
    pub duration_ms: Option<f64>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    /// Log timestamp as the server printed it.
    pub timestamp: Option<String>,
    /// Where the sample came from (`file:line`).
    pub origin: String,
}

/// Where a workload was read from, for reports and error messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// `live`, `csv`, `json`, `snapshot`, `log-stderr`, `log-csv`, `log-json`, `sql`.
    pub kind: String,
    /// File path, or the connection description (never with a password).
    pub location: String,
}

/// A workload: statement statistics from one source, plus samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub source: Source,
    pub statements: Vec<StatementStat>,
    #[serde(default)]
    pub samples: Vec<QuerySample>,
    /// When the statistics were taken (RFC 3339), if known.
    #[serde(default)]
    pub captured_at: Option<String>,
    /// `server_version_num` of the server, if known.
    #[serde(default)]
    pub server_version_num: Option<i32>,
}

/// Where a report reads its workload from: flags shared by `top`, `check`
/// and `advise`. With none of `--stats`/`--log`, the live server is read.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    #[command(flatten)]
    pub conn: crate::conn::ConnArgs,
    /// A pg_stat_statements export instead of a live server: CSV
    /// (`\copy (SELECT * FROM pg_stat_statements) TO 'f.csv' CSV HEADER`) or JSON.
    #[arg(long, value_name = "FILE", conflicts_with = "log")]
    pub stats: Option<std::path::PathBuf>,
    /// PostgreSQL server log(s) as the workload (stderr, csvlog or jsonlog,
    /// detected from the content), read from `log_min_duration_statement` lines.
    #[arg(long, value_name = "FILE")]
    pub log: Vec<std::path::PathBuf>,
    /// Only the activity since this snapshot (`pgadvisor snapshot save FILE`).
    #[arg(long, value_name = "FILE")]
    pub since: Option<std::path::PathBuf>,
}

mod columns;
pub mod logs;
pub mod pgss_export;
pub mod pgss_live;
pub mod snapshot;
pub mod text;

pub use columns::PgssRow;

/// Load the workload the flags name: a server log, a pg_stat_statements
/// export, or the live server; with `--since`, only what changed after
/// that snapshot.
pub async fn load(args: &SourceArgs) -> anyhow::Result<Workload> {
    if !args.log.is_empty() {
        if let Some(since) = &args.since {
            anyhow::bail!(
                "--since {} cannot be combined with --log: a snapshot holds pg_stat_statements \
                 counters, a log holds single executions. Drop --since, or measure the window \
                 from the live server (or a --stats export) instead.",
                since.display()
            );
        }
        return logs::load_files(&args.log);
    }
    let current = match &args.stats {
        Some(path) => pgss_export::read_file(path)?,
        None => pgss_live::read(&args.conn).await?,
    };
    match &args.since {
        None => Ok(current.into_workload()),
        Some(path) => {
            let base = snapshot::read_file(path)?;
            Ok(snapshot::delta(&base, &current, path).into_workload())
        }
    }
}

/// pg_stat_statements rows with the keys a snapshot delta needs
/// (userid/dbid/toplevel), from any pg_stat_statements source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgssSet {
    pub source: Source,
    pub captured_at: Option<String>,
    pub server_version_num: Option<i32>,
    pub rows: Vec<PgssRow>,
}

impl PgssSet {
    pub fn into_workload(self) -> Workload {
        Workload {
            source: self.source,
            statements: self.rows.into_iter().map(|r| r.stat).collect(),
            samples: Vec::new(),
            captured_at: self.captured_at,
            server_version_num: self.server_version_num,
        }
    }
}
