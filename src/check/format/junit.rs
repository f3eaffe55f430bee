//! `--format junit`: JUnit XML as GitLab (`artifacts:reports:junit`),
//! Jenkins and most CI dashboards read it. A testsuite per rule that ran,
//! a testcase per (rule, query shape) so the CI shows what was checked:
//! `<failure>` for `error` findings, `<system-out>` for warnings and infos
//! (they do not fail the build), `<skipped>` for shapes the rules file
//! ignores.

use std::fmt::Write as _;

use crate::check::finding::{Finding, Severity};
use crate::check::report::{Report, ShapeStats};

use super::RenderOptions;

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let mut suites = String::new();
    let (mut total, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    for rule in &report.rules {
        let (mut tests, mut fails, mut skips) = (0usize, 0usize, 0usize);
        let mut cases = String::new();
        if rule == "explain" {
            // EXPLAIN findings are about plan nodes, not query shapes: a testcase each.
            for f in report
                .findings
                .iter()
                .filter(|f| f.rule.starts_with("explain/"))
            {
                tests += 1;
                let _ = write!(
                    cases,
                    "    <testcase name=\"{}\" classname=\"pgadvisor.check.{}\" time=\"0\"",
                    xml(&f.query),
                    xml(&f.rule)
                );
                if f.severity == Severity::Error {
                    fails += 1;
                    let _ = write!(
                        cases,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                        xml(&f.message),
                        xml(&f.rule),
                        xml(&details(f))
                    );
                } else {
                    let _ = write!(
                        cases,
                        ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                        xml(&format!("{}: {}", f.severity, details(f)))
                    );
                }
            }
        }
        for shape in report.shapes.iter().filter(|_| rule != "explain") {
            tests += 1;
            let name = case_name(shape);
            let line = opts.line_of(rule);
            let file = opts.path.as_deref().unwrap_or(&report.rules_file);
            let _ = write!(
                cases,
                "    <testcase name=\"{}\" classname=\"pgadvisor.check.{}\" file=\"{}\" line=\"{line}\" time=\"0\"",
                xml(&name),
                xml(rule),
                xml(file)
            );
            let finding = report.findings.iter().find(|f| {
                &f.rule == rule
                    && f.fingerprint == shape.fingerprint
                    && f.database == shape.database
                    && f.user == shape.user
            });
            let ignored = report
                .ignored
                .iter()
                .any(|i| &i.rule == rule && i.fingerprint == shape.fingerprint);
            match finding {
                Some(f) if f.severity == Severity::Error => {
                    fails += 1;
                    let _ = write!(
                        cases,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                        xml(&f.message),
                        xml(rule),
                        xml(&details(f))
                    );
                }
                Some(f) => {
                    let _ = write!(
                        cases,
                        ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                        xml(&format!("{}: {}", f.severity, details(f)))
                    );
                }
                None if ignored => {
                    skips += 1;
                    cases.push_str(
                        ">\n      <skipped message=\"ignored by the rules file\"/>\n    </testcase>\n",
                    );
                }
                None => cases.push_str("/>\n"),
            }
        }
        total += tests;
        failures += fails;
        skipped += skips;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{fails}\" errors=\"0\" skipped=\"{skips}\" time=\"0\">\n{cases}  </testsuite>\n",
            xml(rule)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"pgadvisor check\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">\n{suites}</testsuites>\n"
    )
}

/// Stable across runs (CI tracks test history by name): fingerprint,
/// where it ran, and the start of the query.
fn case_name(shape: &ShapeStats) -> String {
    let mut name = shape.fingerprint.to_string();
    match (&shape.database, &shape.user) {
        (Some(d), Some(u)) => {
            let _ = write!(name, " [{d} {u}]");
        }
        (Some(x), None) | (None, Some(x)) => {
            let _ = write!(name, " [{x}]");
        }
        (None, None) => {}
    }
    let _ = write!(name, " {}", crate::output::shorten(&shape.query, 80));
    name
}

fn details(f: &Finding) -> String {
    let evidence: Vec<String> = f.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}\nhelp: {}\nquery: {}\nqueryids: {:?}\nevidence: {}",
        f.message,
        f.help,
        f.query,
        f.queryids,
        evidence.join(", ")
    )
}

/// Escape text for an XML attribute or element. Characters XML 1.0 cannot
/// carry at all (most C0 controls) become U+FFFD rather than break the file.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::format::{CheckFormat, fixture, render};

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(render(
            &fixture::report(),
            CheckFormat::Junit,
            &fixture::options()
        ));
    }

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            xml("a<b & \"c\" 'd'>\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;\u{FFFD}"
        );
    }

    #[test]
    fn counts_match_findings() {
        let text = render(&fixture::report(), CheckFormat::Junit, &fixture::options());
        // 3 rules × 4 shapes, one error finding, one ignored shape.
        assert!(
            text.contains("<testsuites name=\"pgadvisor check\" tests=\"12\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{text}"
        );
        assert_eq!(text.matches("<failure ").count(), 1);
    }
}
