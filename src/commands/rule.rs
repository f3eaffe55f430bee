//! `pgadvisor rule <id>`: print a check rule's documentation (the same text
//! docs/rules.md is generated from); `--list` for all ids, `--all` for the
//! whole reference.

use std::io::Write as _;

use crate::check::config::Config;
use crate::check::rules::{self, REGISTRY};
use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule id, e.g. slow-mean-time.
    #[arg(required_unless_present_any = ["list", "all"], conflicts_with_all = ["list", "all"])]
    pub id: Option<String>,
    /// List every rule: id, shipped severity, summary.
    #[arg(long, conflicts_with = "all")]
    pub list: bool,
    /// Every rule's documentation (this is docs/rules.md).
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: RuleFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum RuleFormat {
    /// Markdown documentation (a table for --list).
    #[default]
    Markdown,
    /// JSON: id, summary, severity, settings and the documentation sections.
    Json,
}

#[derive(serde::Serialize)]
struct RuleJson {
    id: &'static str,
    summary: &'static str,
    severity: String,
    enabled: bool,
    needs_baseline: bool,
    what: &'static str,
    why: &'static str,
    example: &'static str,
    fix: &'static str,
    references: &'static [&'static str],
}

fn to_json(rule: &dyn rules::Rule, config: &Config) -> RuleJson {
    let doc = rule.doc();
    let common = rule.common(config);
    RuleJson {
        id: doc.id,
        summary: doc.summary,
        severity: common.severity.to_string(),
        enabled: common.enabled,
        needs_baseline: rule.needs_baseline(),
        what: doc.what,
        why: doc.why,
        example: doc.example,
        fix: doc.fix,
        references: doc.references,
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let config = Config::builtin();
    let mut out = std::io::stdout().lock();
    let selected: Vec<&dyn rules::Rule> = match &args.id {
        Some(id) => vec![rules::find(id).ok_or_else(|| {
            let ids: Vec<&str> = REGISTRY.iter().map(|r| r.id()).collect();
            anyhow::anyhow!(
                "unknown rule id `{id}`; the rules are: {} (`pgadvisor rule --list`)",
                ids.join(", ")
            )
        })?],
        None => REGISTRY.to_vec(),
    };
    match args.format {
        RuleFormat::Json => {
            let items: Vec<RuleJson> = selected.iter().map(|r| to_json(*r, &config)).collect();
            if args.id.is_some() {
                crate::output::write_json(&mut out, &items[0])?;
            } else {
                crate::output::write_json(&mut out, &items)?;
            }
        }
        RuleFormat::Markdown if args.list => {
            let mut t = crate::output::table(&["id", "severity", "summary"]);
            for rule in &selected {
                let c = rule.common(&config);
                let sev = if c.enabled {
                    c.severity.as_str()
                } else {
                    "off"
                };
                t.add_row(vec![rule.id(), sev, rule.doc().summary]);
            }
            writeln!(out, "{t}")?;
        }
        RuleFormat::Markdown if args.all => write!(out, "{}", rules::render_all_markdown())?,
        RuleFormat::Markdown => write!(out, "{}", rules::render_markdown(selected[0], 1))?,
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}
