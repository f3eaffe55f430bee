//! `pgadvisor explain`: EXPLAIN output (TEXT, JSON, YAML; from files, stdin
//! or a live server) → a plan tree → self times and findings with fixes.
//!
//! - [`input`]: psql decoration, blocks, format detection
//! - [`parse_text`], [`parse_json`], [`parse_yaml`] → [`model`]
//! - [`analyze`]: self time per node, findings ([`rules`] holds thresholds)
//! - [`render`]: the terminal tree and findings table
//! - [`live`]: running EXPLAIN against a server (the command's I/O edge)

pub mod analyze;
pub mod input;
pub mod live;
pub mod model;
pub mod parse_json;
pub mod parse_text;
pub mod parse_yaml;
pub mod predicates;
pub mod render;
pub mod rules;
#[cfg(test)]
mod tests;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

pub use analyze::{Finding, NodeTiming, PlanAnalysis};
pub use model::Plan;
pub use rules::{Severity, Thresholds};

/// Every plan in a text (any supported format, several plans allowed).
pub fn parse(text: &str) -> Result<Vec<Plan>> {
    input::parse_plans(text)
}

/// A plan with its analysis: what `--format json` prints per plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub plan: Plan,
    #[serde(flatten)]
    pub analysis: PlanAnalysis,
}

/// Parse and analyze every plan in a text.
pub fn analyze_text(text: &str, thresholds: &Thresholds) -> Result<Vec<PlanReport>> {
    let plans = parse(text)?;
    Ok(plans
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let analysis = analyze::analyze(&plan, i + 1, thresholds);
            PlanReport { plan, analysis }
        })
        .collect())
}

/// Findings of every plan in a file: the entry point for `check --explain`.
/// Gate CI on `finding.severity == Severity::Error`.
pub fn analyze_file(path: &Path, thresholds: &Thresholds) -> Result<Vec<Finding>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = input_text(bytes, &path.display().to_string())?;
    let reports = analyze_text(&text, thresholds)
        .with_context(|| format!("cannot read the plan in {}", path.display()))?;
    Ok(reports
        .into_iter()
        .flat_map(|r| r.analysis.findings)
        .collect())
}

/// Input bytes as text, or an error naming where they came from.
pub fn input_text(bytes: Vec<u8>, origin: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!("{origin} is not UTF-8 text: expected EXPLAIN output (TEXT, JSON or YAML)")
    })
}
