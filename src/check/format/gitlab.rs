//! `--format gitlab`: GitLab Code Quality JSON (`artifacts:reports:codequality`),
//! the subset of the Code Climate spec GitLab reads: `description`,
//! `check_name`, `fingerprint`, `severity`, `location.path`,
//! `location.lines.begin`. The fingerprint hashes rule, query fingerprint,
//! database and user (not the numbers), so GitLab can tell a finding that
//! persists from one that is new in a merge request.

use serde::Serialize;

use crate::check::finding::Severity;
use crate::check::report::Report;

use super::RenderOptions;

#[derive(Serialize)]
struct Issue {
    description: String,
    check_name: String,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
}

/// GitLab's scale is info, minor, major, critical, blocker.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "critical",
        Severity::Warning => "major",
        Severity::Info => "info",
    }
}

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let path = opts
        .path
        .clone()
        .unwrap_or_else(|| report.rules_file.clone());
    let issues: Vec<Issue> = report
        .findings
        .iter()
        .map(|f| {
            let key = format!(
                "{}\0{}\0{}\0{}",
                f.rule,
                f.fingerprint,
                f.database.as_deref().unwrap_or(""),
                f.user.as_deref().unwrap_or("")
            );
            Issue {
                description: format!("[{}] {} — {}", f.rule, f.message, f.query),
                check_name: f.rule.clone(),
                fingerprint: format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes())),
                severity: severity(f.severity),
                location: Location {
                    path: path.clone(),
                    lines: Lines {
                        begin: opts.line_of(&f.rule),
                    },
                },
            }
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use crate::check::format::{CheckFormat, fixture, render};

    #[test]
    fn gitlab_snapshot() {
        insta::assert_snapshot!(render(
            &fixture::report(),
            CheckFormat::Gitlab,
            &fixture::options()
        ));
    }

    #[test]
    fn fingerprints_are_unique_per_finding() {
        let text = render(&fixture::report(), CheckFormat::Gitlab, &fixture::options());
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let fps: std::collections::HashSet<&str> = v
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|i| i["fingerprint"].as_str())
            .collect();
        assert_eq!(fps.len(), 3);
    }
}
