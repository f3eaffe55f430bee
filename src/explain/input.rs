//! From whatever the user pasted to plans: strips psql's decoration (the
//! `QUERY PLAN` header and dashes, `(N rows)` footers, `+` continuation
//! marks, `|` borders, expanded-mode record lines), splits the input into
//! blocks (one per psql result), and sends each block to the parser for its
//! format (JSON, YAML or TEXT), detected from the content.

use anyhow::{Context, Result, bail};

use super::model::Plan;
use super::{parse_json, parse_text, parse_yaml};

/// One input line with its 1-based line number in the original input.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub no: usize,
    pub text: String,
}

/// Every plan in the input, in order.
pub fn parse_plans(input: &str) -> Result<Vec<Plan>> {
    if input.trim().is_empty() {
        bail!("the input is empty: expected EXPLAIN output (TEXT, JSON or YAML)");
    }
    let mut plans = Vec::new();
    for block in blocks(input) {
        let first = block
            .iter()
            .find(|l| !l.text.trim().is_empty())
            .map(|l| (l.no, l.text.trim_start().to_string()));
        let Some((start, first)) = first else {
            continue;
        };
        let joined = || {
            block
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let parsed = if first.starts_with('[') || first.starts_with('{') {
            parse_json::parse(&joined())
                .with_context(|| format!("in the JSON plan starting at line {start}"))?
        } else if first.starts_with("- Plan:") || first.starts_with("Plan:") {
            parse_yaml::parse(&joined())
                .with_context(|| format!("in the YAML plan starting at line {start}"))?
        } else if first.starts_with("<explain") || first.starts_with("<?xml") {
            bail!(
                "line {start}: FORMAT XML is not supported; run EXPLAIN with FORMAT TEXT or FORMAT JSON"
            );
        } else {
            parse_text::parse(&block)?
        };
        plans.extend(parsed);
    }
    if plans.is_empty() {
        bail!("no EXPLAIN plan found in the input");
    }
    Ok(plans)
}

/// Input lines grouped by psql result; decoration removed, numbering kept.
pub fn blocks(input: &str) -> Vec<Vec<Line>> {
    let lines: Vec<Line> = input
        .lines()
        .enumerate()
        .map(|(i, t)| Line {
            no: i + 1,
            text: t.to_string(),
        })
        .collect();
    let has_header = lines.iter().any(|l| is_header(&l.text));
    if !has_header {
        return vec![
            lines
                .into_iter()
                .filter(|l| !is_footer(l.text.trim()))
                .filter_map(|l| clean(l, false))
                .collect(),
        ];
    }
    // Only what sits between a header and its footer is plan text; prompts,
    // echoed queries and command tags around it are not.
    let mut out = Vec::new();
    let mut cur: Option<Vec<Line>> = None;
    for line in lines {
        if is_header(&line.text) {
            if let Some(b) = cur.take() {
                out.push(b);
            }
            cur = Some(Vec::new());
            continue;
        }
        let Some(block) = cur.as_mut() else { continue };
        let t = line.text.trim();
        if block.is_empty() && is_rule(t) {
            continue;
        }
        if is_footer(t) {
            if let Some(b) = cur.take() {
                out.push(b);
            }
            continue;
        }
        if let Some(l) = clean(line, true) {
            block.push(l);
        }
    }
    if let Some(b) = cur.take() {
        out.push(b);
    }
    out
}

fn is_header(line: &str) -> bool {
    let t = line.trim().trim_matches(|c| c == '|' || c == '│').trim();
    t == "QUERY PLAN"
}

/// The dashes under the header (`-----`, `─────`, `+----+`).
fn is_rule(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| "-+─┼├┤═╪|│".contains(c))
}

/// `(12 rows)`, `(1 row)`.
fn is_footer(t: &str) -> bool {
    let Some(inner) = t.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return false;
    };
    let mut words = inner.split_whitespace();
    matches!(
        (words.next(), words.next(), words.next()),
        (Some(n), Some("rows" | "row"), None) if n.chars().all(|c| c.is_ascii_digit())
    )
}

/// Strip one line's decoration: borders, `+` continuation, padding,
/// expanded-mode `QUERY PLAN | …` prefixes and record separators. Inside a
/// psql result the `+` mark may touch the value when it fills the column.
fn clean(mut line: Line, psql: bool) -> Option<Line> {
    let mut t = line.text.trim_end().to_string();
    if t.trim_start().starts_with("-[ RECORD") {
        return None;
    }
    if let Some(rest) = t.trim_start().strip_prefix("QUERY PLAN") {
        let rest = rest.trim_start();
        if let Some(v) = rest.strip_prefix('|').or_else(|| rest.strip_prefix('│')) {
            t = v.strip_prefix(' ').unwrap_or(v).to_string();
        }
    }
    for border in ['|', '│'] {
        let trimmed = t.trim();
        if trimmed.len() >= 2 && trimmed.starts_with(border) && trimmed.ends_with(border) {
            let inner = &trimmed[border.len_utf8()..trimmed.len() - border.len_utf8()];
            t = inner
                .strip_prefix(' ')
                .unwrap_or(inner)
                .trim_end()
                .to_string();
        }
    }
    if let Some(body) = t.strip_suffix('+')
        && (psql || body.ends_with(char::is_whitespace))
    {
        t = body.trim_end().to_string();
    }
    line.text = t;
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_and_rules() {
        assert!(is_footer("(8 rows)"));
        assert!(is_footer("(1 row)"));
        assert!(!is_footer("(cost=1)"));
        assert!(is_rule("-----------"));
        assert!(!is_rule("-> Seq Scan"));
    }

    #[test]
    fn psql_blocks_drop_prompts_and_continuations() {
        let input = "app=# explain (format json) select 1;\n     QUERY PLAN     \n----------\n [        +\n   {\"Plan\": {\"Node Type\": \"Result\"}}+\n ]\n(1 row)\n\napp=# \n";
        let b = blocks(input);
        assert_eq!(b.len(), 1);
        let texts: Vec<_> = b[0].iter().map(|l| l.text.trim().to_string()).collect();
        assert_eq!(
            texts,
            vec!["[", "{\"Plan\": {\"Node Type\": \"Result\"}}", "]"]
        );
        assert_eq!(b[0][0].no, 4);
    }
}
