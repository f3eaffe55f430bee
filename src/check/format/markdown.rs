//! `--format markdown`: a pull-request comment or `$GITHUB_STEP_SUMMARY`.
//! GitHub rejects a step summary over 1 MiB, so rows stop before the limit
//! and a note says how many were left out.

use std::fmt::Write as _;

use crate::check::finding::Severity;
use crate::check::report::Report;
use crate::output::shorten;

use super::plural;

/// GitHub's limit for one step's summary (bytes).
pub const MARKDOWN_LIMIT: usize = 1024 * 1024;

/// Room kept for the closing note and help section.
const RESERVE: usize = 16 * 1024;

pub fn render(report: &Report, limit: usize) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let verdict = if s.passed { "passed" } else { "failed" };
    let _ = writeln!(out, "## pgadvisor check {verdict}\n");
    let _ = writeln!(
        out,
        "**{}**, {}, {} in {}; {} rules from `{}`{}.\n",
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
        plural(s.infos, "info", "infos"),
        plural(s.shapes, "query shape", "query shapes"),
        report.rules.len(),
        report.rules_file,
        report
            .baseline
            .as_deref()
            .map(|b| format!(", baseline `{b}`"))
            .unwrap_or_default()
    );
    if report.findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    out.push_str("| severity | rule | finding | query | fingerprint |\n|---|---|---|---|---|\n");
    let budget = limit.saturating_sub(RESERVE);
    let mut shown = 0;
    for f in &report.findings {
        let icon = match f.severity {
            Severity::Error => "🔴 error",
            Severity::Warning => "🟡 warning",
            Severity::Info => "🔵 info",
        };
        let row = format!(
            "| {icon} | `{rule}` | {} | {} | `{}` |\n",
            cell(&f.message),
            code_cell(&shorten(&f.query, 120)),
            f.fingerprint,
            rule = f.rule
        );
        if out.len() + row.len() > budget {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    let hidden = report.findings.len() - shown;
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\n_{hidden} more finding(s) not shown to stay under the 1 MiB summary limit; \
             write the full report with `--format json --output FILE`._"
        );
    }
    out.push_str("\n<details><summary>What to do</summary>\n\n");
    let mut seen: Vec<&str> = Vec::new();
    for f in &report.findings[..shown] {
        if seen.contains(&f.rule.as_str()) {
            continue;
        }
        seen.push(&f.rule);
        let _ = writeln!(
            out,
            "- `{}`: {} (`pgadvisor rule {}`)",
            f.rule,
            cell(&f.help),
            f.rule
        );
    }
    out.push_str("\n</details>\n");
    out
}

/// Text safe inside a table cell: one line, pipes escaped, HTML inert.
fn cell(s: &str) -> String {
    shorten(s, usize::MAX)
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A code span inside a table cell: fenced with more backticks than the
/// text contains, pipes escaped (GFM unescapes them in code spans).
fn code_cell(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let body = s.replace('|', "\\|");
    if longest > 0 {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::format::{CheckFormat, fixture, render as render_fmt};

    #[test]
    fn markdown_snapshot() {
        insta::assert_snapshot!(render_fmt(
            &fixture::report(),
            CheckFormat::Markdown,
            &fixture::options()
        ));
    }

    #[test]
    fn stays_under_the_limit_with_a_note() {
        let mut r = fixture::report();
        let f = r.findings[1].clone();
        r.findings = std::iter::repeat_n(f, 20_000).collect();
        let text = render(&r, MARKDOWN_LIMIT);
        assert!(text.len() <= MARKDOWN_LIMIT, "{} bytes", text.len());
        assert!(
            text.contains("more finding(s) not shown"),
            "no truncation note"
        );
        // Small reports are not truncated.
        let text = render(&fixture::report(), MARKDOWN_LIMIT);
        assert!(!text.contains("not shown"));
    }

    #[test]
    fn code_cells_survive_backticks_and_pipes() {
        assert_eq!(code_cell("a | b"), "`a \\| b`");
        assert_eq!(code_cell("x `y` z"), "`` x `y` z ``");
    }
}
