//! PostgreSQL server logs as a workload: the `log_min_duration_statement`
//! (and `log_statement`) lines of stderr, csvlog and jsonlog output. Each
//! logged execution becomes a [`QuerySample`] with its literal values (or,
//! for extended-protocol `execute` lines, its `$n` text plus the
//! `parameters:` detail); the samples are also summed per fingerprint into
//! [`StatementStat`]s so `top --log` ranks them like pg_stat_statements.
//!
//! Each format has its own file that turns lines into [`LogRecord`]s; what
//! a record means (statement, execute, duration) is decided once, in
//! [`message`], for all three.

pub mod csvlog;
pub mod jsonlog;
pub mod message;
pub mod stderr;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::text::read_text;
use super::{QuerySample, Source, StatementStat, Workload};
use message::{Kind, Message};

const WHAT: &str = "a PostgreSQL server log (stderr, csvlog or jsonlog format)";

/// The three log formats PostgreSQL writes (`log_destination`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Stderr,
    Csv,
    Json,
}

impl LogFormat {
    pub fn kind(self) -> &'static str {
        match self {
            LogFormat::Stderr => "log-stderr",
            LogFormat::Csv => "log-csv",
            LogFormat::Json => "log-json",
        }
    }
}

/// One log message with the fields statement logging needs, whatever
/// format it came from. `detail` is the message's DETAIL (for stderr, the
/// `DETAIL:` line that followed it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRecord {
    pub severity: String,
    pub message: String,
    pub detail: Option<String>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    pub timestamp: Option<String>,
    pub pid: Option<String>,
    /// 1-based line where the record starts.
    pub line: usize,
}

/// Tell the format from the content. `None`: not a PostgreSQL log we know.
pub fn detect(text: &str) -> Option<LogFormat> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    if first.trim_start().starts_with('{') {
        return jsonlog::looks_like(first).then_some(LogFormat::Json);
    }
    if csvlog::looks_like(text) {
        return Some(LogFormat::Csv);
    }
    if text
        .lines()
        .take(200)
        .any(|l| stderr::split_line(l).is_some())
    {
        return Some(LogFormat::Stderr);
    }
    None
}

/// Parse one log file's text into records.
pub fn parse(text: &str, path: &Path) -> Result<(LogFormat, Vec<LogRecord>)> {
    let Some(format) = detect(text) else {
        bail!(
            "cannot tell the format of {}: it is not a PostgreSQL server log in stderr, csvlog or \
             jsonlog format (the first lines carry no `LOG:  ` message, no csvlog columns and no \
             jsonlog object). Point --log at the server's own log file (see log_directory and \
             log_destination); for stderr logs keep a log_line_prefix such as '%m [%p] ' and set \
             log_min_duration_statement = 0 (or a threshold) so statements are logged.",
            path.display()
        );
    };
    let records = match format {
        LogFormat::Stderr => stderr::parse(text),
        LogFormat::Csv => csvlog::parse(text, path)?,
        LogFormat::Json => jsonlog::parse(text, path)?,
    };
    Ok((format, records))
}

/// Turn records into samples: one per logged execution. Parse and bind
/// steps of the extended protocol are skipped (their execute line is the
/// execution); a bare `duration:` line completes the durationless
/// statement its backend logged before it (`log_statement` +
/// `log_duration`).
pub fn samples(records: &[LogRecord], path: &Path) -> Vec<QuerySample> {
    let mut out: Vec<QuerySample> = Vec::new();
    // Per backend: the index of its last sample still waiting for a duration.
    let mut waiting: HashMap<Option<String>, usize> = HashMap::new();
    for rec in records {
        if rec.severity != "LOG" {
            continue;
        }
        match message::parse(&rec.message) {
            Message::Statement {
                duration_ms,
                kind,
                text,
            } => {
                if !matches!(kind, Kind::Simple | Kind::Execute) {
                    continue;
                }
                let params = match (&kind, &rec.detail) {
                    (Kind::Execute, Some(d)) => message::parameters(d).unwrap_or_default(),
                    _ => Vec::new(),
                };
                let text = message::clean_statement(text);
                if text.is_empty() {
                    continue;
                }
                if duration_ms.is_none() {
                    waiting.insert(rec.pid.clone(), out.len());
                } else {
                    waiting.remove(&rec.pid);
                }
                out.push(QuerySample {
                    text,
                    params,
                    duration_ms,
                    user: rec.user.clone(),
                    database: rec.database.clone(),
                    application: rec.application.clone(),
                    timestamp: rec.timestamp.clone(),
                    origin: format!("{}:{}", path.display(), rec.line),
                });
            }
            Message::DurationOnly(ms) => {
                if let Some(i) = waiting.remove(&rec.pid)
                    && let Some(s) = out.get_mut(i)
                {
                    s.duration_ms = Some(ms);
                }
            }
            Message::Other => {}
        }
    }
    out
}

/// Sum samples per (fingerprint, user, database): calls = executions,
/// times from the logged durations. The first sample's text stands for the
/// group; for extended-protocol lines that is the `$n` text.
pub fn aggregate(samples: &[QuerySample]) -> Vec<StatementStat> {
    struct Acc {
        stat: StatementStat,
        timed: i64,
        sum_sq: f64,
    }
    let mut order: Vec<Acc> = Vec::new();
    let mut index: HashMap<(u64, Option<String>, Option<String>), usize> = HashMap::new();
    for s in samples {
        let fp = crate::normalize::fingerprint(&s.text).fingerprint.0;
        let key = (fp, s.user.clone(), s.database.clone());
        let i = *index.entry(key).or_insert_with(|| {
            order.push(Acc {
                stat: StatementStat {
                    user: s.user.clone(),
                    database: s.database.clone(),
                    query: s.text.clone(),
                    min_exec_time: f64::INFINITY,
                    ..StatementStat::default()
                },
                timed: 0,
                sum_sq: 0.0,
            });
            order.len() - 1
        });
        let acc = &mut order[i];
        acc.stat.calls += 1;
        if let Some(d) = s.duration_ms {
            acc.timed += 1;
            acc.stat.total_exec_time += d;
            acc.sum_sq += d * d;
            acc.stat.min_exec_time = acc.stat.min_exec_time.min(d);
            acc.stat.max_exec_time = acc.stat.max_exec_time.max(d);
        }
    }
    order
        .into_iter()
        .map(|mut acc| {
            if acc.timed == 0 {
                acc.stat.min_exec_time = 0.0;
            } else {
                let n = acc.timed as f64;
                let mean = acc.stat.total_exec_time / n;
                acc.stat.mean_exec_time = mean;
                acc.stat.stddev_exec_time = (acc.sum_sq / n - mean * mean).max(0.0).sqrt();
            }
            acc.stat
        })
        .collect()
}

/// Read log files (each in its own detected format) into one workload.
pub fn load_files(paths: &[PathBuf]) -> Result<Workload> {
    let mut all = Vec::new();
    let mut kinds: Vec<&str> = Vec::new();
    for path in paths {
        let text = read_text(path, WHAT)?;
        let (format, records) = parse(&text, path)?;
        if !kinds.contains(&format.kind()) {
            kinds.push(format.kind());
        }
        all.extend(samples(&records, path));
    }
    let statements = aggregate(&all);
    Ok(Workload {
        source: Source {
            kind: kinds.join("+"),
            location: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        },
        statements,
        samples: all,
        captured_at: None,
        server_version_num: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel)
    }

    fn load(rel: &str) -> Workload {
        load_files(&[fixture(rel)]).unwrap()
    }

    #[test]
    fn three_formats_of_one_run_agree() {
        let stderr = load("logs/seed-platform.log");
        let csv = load("logs/seed-platform.csv");
        let json = load("logs/seed-platform.json");
        assert_eq!(stderr.source.kind, "log-stderr");
        assert_eq!(csv.source.kind, "log-csv");
        assert_eq!(json.source.kind, "log-json");
        assert!(stderr.samples.len() > 100, "{}", stderr.samples.len());
        // The three files were written by one server at once; trims differ,
        // so compare the common prefix sample by sample.
        let n = stderr
            .samples
            .len()
            .min(csv.samples.len())
            .min(json.samples.len());
        for i in 0..n {
            let (a, b, c) = (&stderr.samples[i], &csv.samples[i], &json.samples[i]);
            assert_eq!(a.text, b.text, "sample {i}");
            assert_eq!(a.text, c.text, "sample {i}");
            assert_eq!(a.params, b.params);
            assert_eq!(a.params, c.params);
            assert_eq!(a.duration_ms, b.duration_ms);
            assert_eq!(a.duration_ms, c.duration_ms);
            assert_eq!((&a.user, &a.database), (&b.user, &b.database));
            assert_eq!(a.application, c.application);
        }
    }

    #[test]
    fn execute_lines_carry_their_parameters() {
        let w = load("logs/seed-platform.json");
        let exec = w
            .samples
            .iter()
            .find(|s| s.text.contains("md5('conv' || $1)") && s.text.starts_with("SELECT avg"))
            .expect("an extended-protocol execute of conversation_emotion");
        assert_eq!(exec.params.len(), 1);
        assert!(exec.params[0].starts_with('\'') && exec.params[0].ends_with('\''));
        assert!(exec.duration_ms.is_some());
        assert_eq!(exec.application.as_deref(), Some("seed-extended"));
        // Simple-protocol lines keep their literals and have no parameters.
        let simple = w
            .samples
            .iter()
            .find(|s| s.text.contains("email = 'user' ||"))
            .expect("a simple-protocol email lookup with its literal");
        assert!(simple.params.is_empty());
        // Parse/bind steps are not executions: one sample per logged
        // statement or execute message.
        let raw = std::fs::read_to_string(fixture("logs/seed-platform.json")).unwrap();
        let executions = raw
            .lines()
            .filter(|l| l.contains("  statement: ") || l.contains("  execute <"))
            .count();
        assert_eq!(w.samples.len(), executions);
        assert!(w.samples.iter().all(|s| !s.text.starts_with("parse")));
    }

    #[test]
    fn aggregate_sums_durations_per_statement() {
        let w = load("logs/seed-platform.log");
        let calls: i64 = w.statements.iter().map(|s| s.calls).sum();
        assert_eq!(calls as usize, w.samples.len());
        let total: f64 = w.statements.iter().map(|s| s.total_exec_time).sum();
        let from_samples: f64 = w.samples.iter().filter_map(|s| s.duration_ms).sum();
        assert!((total - from_samples).abs() < 1e-6);
        for s in &w.statements {
            assert!(s.min_exec_time <= s.mean_exec_time + 1e-9);
            assert!(s.mean_exec_time <= s.max_exec_time + 1e-9);
        }
    }

    #[test]
    fn default_prefix_and_log_statement_pairs() {
        let w = load("logs/default-prefix.log");
        assert_eq!(w.source.kind, "log-stderr");
        let texts: Vec<&str> = w.samples.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "SELECT id, status FROM app.customers WHERE email = 'user42@example.com'",
                "SELECT id, status FROM app.customers WHERE email = $1",
                "SELECT *\nFROM app.customers\nWHERE id = 7",
                "UPDATE app.bookings SET status = 'it''s done' WHERE id = 3",
            ]
        );
        assert_eq!(w.samples[0].duration_ms, Some(12.5));
        assert_eq!(w.samples[1].params, ["'user7@example.com'"]);
        assert_eq!(
            w.samples[2].duration_ms,
            Some(0.25),
            "log_duration line joined"
        );
        assert_eq!(w.samples[3].user.as_deref(), Some("app"));
        assert_eq!(w.samples[3].database.as_deref(), Some("shop"));
        assert_eq!(w.samples[0].user, None);
    }

    #[test]
    fn unknown_and_non_utf8_logs_are_errors() {
        let err = format!(
            "{:#}",
            load_files(&[fixture("bad/unknown.log")]).unwrap_err()
        );
        assert!(
            err.contains("unknown.log") && err.contains("cannot tell the format"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            load_files(&[fixture("bad/latin1.log")]).unwrap_err()
        );
        assert!(
            err.contains("latin1.log") && err.contains("not UTF-8"),
            "{err}"
        );
        let err = format!("{:#}", load_files(&[fixture("bad/empty.csv")]).unwrap_err());
        assert!(err.contains("is empty"), "{err}");
    }
}
