//! `pgadvisor explain [FILE|-]`, or `--query SQL` / `--fingerprint FP`
//! against a live server: the plan tree with self times, findings and fixes.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::exit::ExitStatus;
use crate::explain::live::{self, Mode};
use crate::explain::render::{self, Style};
use crate::explain::{Severity, Thresholds};
use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File of EXPLAIN output (TEXT, JSON or YAML; psql output as is; several
    /// plans allowed), or `-` for standard input.
    #[arg(conflicts_with_all = ["query", "fingerprint"])]
    pub input: Option<String>,
    /// Run EXPLAIN (ANALYZE, BUFFERS) of this statement on the server.
    #[arg(long, value_name = "SQL", conflicts_with = "fingerprint")]
    pub query: Option<String>,
    /// Run EXPLAIN of the workload's sample statement with this fingerprint
    /// (16 hex digits, from `pgadvisor top`); the workload comes from --log.
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<crate::normalize::Fingerprint>,
    /// Also EXPLAIN ANALYZE statements that write, inside a transaction
    /// that is rolled back (triggers and sequences still fire).
    #[arg(long)]
    pub analyze_writes: bool,
    /// Only plan the statement (EXPLAIN without ANALYZE).
    #[arg(long)]
    pub no_analyze: bool,
    /// statement_timeout for the live EXPLAIN (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Rules file with an `explain:` section (see rules/explain.yaml).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Exit 1 when a finding has `error` severity.
    #[arg(long)]
    pub fail_on_findings: bool,
    /// Nodes listed under "Top self time".
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub source: crate::intake::SourceArgs,
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    let thresholds = Thresholds::load(args.rules.as_deref())?;
    let (text, origin, note) = plan_text(&args).await?;
    let reports = crate::explain::analyze_text(&text, &thresholds)
        .with_context(|| format!("cannot read the plan in {origin}"))?;

    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                source: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                note: Option<&'a str>,
                plans: &'a [crate::explain::PlanReport],
            }
            crate::output::write_json(
                &mut stdout,
                &Out {
                    source: &origin,
                    note: note.as_deref(),
                    plans: &reports,
                },
            )?;
        }
        Format::Table => {
            if let Some(n) = &note {
                writeln!(stdout, "note: {n}")?;
            }
            let style = Style {
                color: crate::output::color_enabled(),
                terminal: crate::output::stdout_is_terminal(),
                top: args.top,
            };
            write!(stdout, "{}", render::render(&reports, style))?;
        }
    }
    stdout.flush()?;
    let failing = reports
        .iter()
        .flat_map(|r| &r.analysis.findings)
        .any(|f| f.severity == Severity::Error);
    Ok(if args.fail_on_findings && failing {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}

/// The EXPLAIN text to analyze, where it came from, and a note for the user.
async fn plan_text(args: &Args) -> Result<(String, String, Option<String>)> {
    let sql = match (&args.query, &args.fingerprint) {
        (Some(q), _) => Some(q.clone()),
        (None, Some(fp)) => Some(sample_for(args, *fp).await?),
        (None, None) => None,
    };
    if let Some(sql) = sql {
        let mode = live::mode_for(&sql, args.analyze_writes, args.no_analyze)?;
        let target = args.source.conn.resolve()?;
        let note = match mode {
            Mode::PlanOnly if !args.no_analyze => Some(
                "the statement writes, so it was planned but not run; pass --analyze-writes to \
                 run it inside a transaction that is rolled back"
                    .to_string(),
            ),
            Mode::AnalyzeRolledBack => {
                Some("the statement ran inside a transaction that was rolled back".to_string())
            }
            _ => None,
        };
        let text = live::explain(&target, &sql, mode, args.timeout).await?;
        return Ok((text, target.display.clone(), note));
    }
    let input = args.input.as_deref().unwrap_or("-");
    let bytes = if input == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(input).with_context(|| format!("cannot read {input}"))?
    };
    let origin = if input == "-" {
        "standard input".to_string()
    } else {
        input.to_string()
    };
    let text = crate::explain::input_text(bytes, &origin)?;
    Ok((text, origin, None))
}

/// The literal sample text of a fingerprint from the workload's samples.
async fn sample_for(args: &Args, fp: crate::normalize::Fingerprint) -> Result<String> {
    let workload = crate::intake::load(&args.source)
        .await
        .context("--fingerprint needs a workload with sample statements (e.g. --log FILE)")?;
    let sample = workload
        .samples
        .iter()
        .filter(|s| crate::normalize::fingerprint(&s.text).fingerprint == fp)
        .find(|s| s.params.is_empty());
    match sample {
        Some(s) => Ok(s.text.clone()),
        None => bail!(
            "no sample statement with literal values has fingerprint {fp} in the workload ({}); \
             pass the statement with --query",
            workload.source.location
        ),
    }
}
