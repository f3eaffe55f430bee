//! `--format table`: findings for a person at a terminal, then the verdict.

use crate::check::report::Report;
use crate::output::{self, duration_ms};

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    if !report.findings.is_empty() {
        let mut t = output::table(&[
            "severity",
            "rule",
            "fingerprint",
            "calls",
            "mean",
            "finding",
            "query",
        ]);
        for f in &report.findings {
            let stats = report.shapes.iter().find(|s| {
                s.fingerprint == f.fingerprint && s.database == f.database && s.user == f.user
            });
            t.add_row(vec![
                f.severity.to_string(),
                f.rule.clone(),
                f.fingerprint.to_string(),
                stats.map(|s| s.calls.to_string()).unwrap_or_default(),
                stats
                    .map(|s| duration_ms(s.mean_exec_time))
                    .unwrap_or_default(),
                output::shorten(&f.message, 120),
                output::shorten(&f.query, 60),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out.push_str(&super::verdict(report));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use crate::check::format::{CheckFormat, fixture, render};

    #[test]
    fn table_snapshot() {
        // Tests run with stdout captured: the pipe style (ASCII markdown), no colour.
        insta::assert_snapshot!(render(
            &fixture::report(),
            CheckFormat::Table,
            &fixture::options()
        ));
    }
}
