//! `pgadvisor check`: the CI gate. Resolves the rules file, the baseline and
//! the workload (in that order, so a bad file fails before any connection),
//! runs the rules and renders the report; the exit code says whether a
//! rule at `error` severity fired.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::check::baseline::Baseline;
use crate::check::config::{self, Config};
use crate::check::format::{self, CheckFormat, RenderOptions};
use crate::check::report::Report;
use crate::exit::ExitStatus;
use crate::intake::SourceArgs;
use crate::shapes::GroupOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Rules YAML to use instead of the shipped rules/default.yaml (keys it
    /// leaves out keep their shipped values).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// A previous run to compare with: a `pgadvisor snapshot save` file or a
    /// `check --format json` report. Enables new-query-shape and
    /// mean-time-regression.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: CheckFormat,
    /// Write the report to FILE (atomically) and only the verdict to stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report findings but exit 0 even when a rule at `error` severity fires.
    #[arg(long)]
    pub exit_zero: bool,
    /// File that GitHub/GitLab annotations point at (default: the rules file).
    #[arg(long, value_name = "PATH")]
    pub path_for_findings: Option<String>,
    /// EXPLAIN output to judge too (text, JSON or YAML; several plans per
    /// file). Its `error` findings fail the run. With only --explain, no
    /// workload is read.
    #[arg(long, value_name = "FILE")]
    pub explain: Vec<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let (config, rules_file, rules_text) = match &args.rules {
        Some(path) => {
            let config = Config::load(path)?;
            let text = std::fs::read_to_string(path).unwrap_or_default();
            (config, path.display().to_string(), text)
        }
        None => (
            Config::builtin(),
            config::DEFAULT_PATH.to_string(),
            config::DEFAULT_YAML.to_string(),
        ),
    };
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;

    // With only --explain, the job gates plans and needs no database.
    let source = &args.source;
    let wants_workload = args.explain.is_empty()
        || source.stats.is_some()
        || !source.log.is_empty()
        || source.since.is_some()
        || source.conn.dsn.is_some();
    let (shapes, workload_source) = if wants_workload {
        let workload = crate::intake::load(source)
            .await
            .context("cannot read the workload to check")?;
        let shapes = crate::shapes::group(&workload.statements, &GroupOptions::default());
        (shapes, Some(workload.source))
    } else {
        (Vec::new(), None)
    };

    let mut eval = crate::check::evaluate(&shapes, baseline.as_ref(), &config);
    if !wants_workload {
        // No workload was read: the workload rules did not run.
        eval.rules.clear();
    }
    let thresholds = config.explain.clone().unwrap_or_default();
    for path in &args.explain {
        let found = crate::explain::analyze_file(path, &thresholds)?;
        crate::check::add_explain_findings(&mut eval, path, found);
    }
    let failed = eval.has_errors();
    let report = Report::new(
        eval,
        &shapes,
        workload_source,
        &rules_file,
        baseline.as_ref().map(|b| b.origin.as_str()),
    );
    let opts = RenderOptions {
        // GitHub annotations on a file the repository may not have would
        // be dropped; without a file they show on the run itself.
        path: args
            .path_for_findings
            .clone()
            .or_else(|| args.rules.as_ref().map(|_| rules_file.clone()))
            .or_else(|| (args.format == CheckFormat::Gitlab).then(|| rules_file.clone())),
        rules_text,
    };
    let text = format::render(&report, args.format, &opts);

    let mut stdout = std::io::stdout().lock();
    match &args.output {
        Some(path) => {
            write_atomically(path, text.as_bytes())?;
            writeln!(
                stdout,
                "{} (report: {})",
                format::verdict(&report),
                path.display()
            )?;
        }
        None => stdout.write_all(text.as_bytes())?,
    }
    stdout.flush()?;
    Ok(if failed && !args.exit_zero {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}

/// Write through a temporary file in the same directory and rename it into
/// place, so a CI step never picks up half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--output {} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| {
            format!(
                "cannot write the report to {} (check the directory exists and is writable)",
                path.display()
            )
        });
    }
    Ok(())
}
