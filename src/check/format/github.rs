//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding (`::error`, `::warning`, `::notice`), then the verdict as a plain
//! line. Escaping follows the Actions toolkit: in data `%`, `\r`, `\n`; in
//! property values also `:` and `,`.

use std::fmt::Write as _;

use crate::check::finding::Severity;
use crate::check::report::Report;

use super::RenderOptions;

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let cmd = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = vec![format!(
            "title={}",
            property(&format!("pgadvisor {} {}", f.rule, f.fingerprint))
        )];
        if let Some(path) = &opts.path {
            props.push(format!("file={}", property(path)));
            props.push(format!("line={}", opts.line_of(&f.rule)));
        }
        let message = format!("{}\nquery: {}\nhelp: {}", f.message, f.query, f.help);
        let _ = writeln!(out, "::{cmd} {}::{}", props.join(","), data(&message));
    }
    out.push_str(&super::verdict(report));
    out.push('\n');
    out
}

fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::format::{CheckFormat, fixture, render as render_fmt};

    #[test]
    fn github_snapshot() {
        insta::assert_snapshot!(render_fmt(
            &fixture::report(),
            CheckFormat::Github,
            &fixture::options()
        ));
    }

    #[test]
    fn escapes_per_actions_toolkit() {
        assert_eq!(data("100%\r\nnext"), "100%25%0D%0Anext");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn each_finding_is_one_line() {
        let text = render(&fixture::report(), &fixture::options());
        assert_eq!(text.lines().filter(|l| l.starts_with("::")).count(), 3);
    }
}
