//! What a statement-logging message says, in any log format:
//! `duration: 1.532 ms  statement: …`, `duration: … ms  execute <name>: …`
//! (with `parse`/`bind` steps), `statement: …` alone (`log_statement`),
//! `duration: … ms` alone (`log_duration`), and the
//! `parameters: $1 = '…', $2 = NULL` detail of an execute.

/// Which protocol step a statement message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Simple query protocol: `statement:`.
    Simple,
    /// Extended protocol execution: `execute <name>:` (also
    /// `execute fetch from <portal>:`).
    Execute,
    /// Extended protocol parse or bind step: not an execution.
    Parse,
    Bind,
    /// `fastpath function call:`.
    Fastpath,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message<'a> {
    Statement {
        duration_ms: Option<f64>,
        kind: Kind,
        text: &'a str,
    },
    DurationOnly(f64),
    Other,
}

/// Classify a LOG message's text.
pub fn parse(msg: &str) -> Message<'_> {
    let mut rest = msg;
    let mut duration_ms = None;
    if let Some(r) = rest.strip_prefix("duration: ") {
        let end = r.find(" ms").unwrap_or(r.len());
        let Ok(ms) = r[..end].trim().parse::<f64>() else {
            return Message::Other;
        };
        duration_ms = Some(ms);
        rest = r.get(end + 3..).unwrap_or("").trim_start_matches(' ');
        if rest.trim().is_empty() {
            return Message::DurationOnly(ms);
        }
    }
    let (kind, text) = if let Some(t) = rest.strip_prefix("statement: ") {
        (Kind::Simple, t)
    } else if let Some(t) = step(rest, "execute ") {
        (Kind::Execute, t)
    } else if let Some(t) = step(rest, "parse ") {
        (Kind::Parse, t)
    } else if let Some(t) = step(rest, "bind ") {
        (Kind::Bind, t)
    } else if let Some(t) = rest.strip_prefix("fastpath function call: ") {
        (Kind::Fastpath, t)
    } else {
        return Message::Other;
    };
    Message::Statement {
        duration_ms,
        kind,
        text,
    }
}

/// `execute <unnamed>: SELECT …` → `SELECT …`: the statement or portal
/// name ends at the first `: `.
fn step<'a>(rest: &'a str, word: &str) -> Option<&'a str> {
    let r = rest.strip_prefix(word)?;
    let colon = r.find(": ")?;
    // A name never spans lines; guard against a statement text with ": ".
    if r[..colon].contains('\n') {
        return None;
    }
    Some(&r[colon + 2..])
}

/// Statement text as a sample keeps it: surrounding whitespace and a
/// trailing `;` removed (pg_stat_statements drops it too).
pub fn clean_statement(text: &str) -> String {
    text.trim().trim_end_matches(';').trim_end().to_string()
}

/// Parse `parameters: $1 = '42', $2 = NULL` into SQL-literal texts in
/// order (`'42'`, `NULL`). `None` when the detail is not a parameter list.
/// A value cut short by `log_parameter_max_length` (ending in `...`
/// without its closing quote) is kept as logged.
pub fn parameters(detail: &str) -> Option<Vec<String>> {
    let list = detail
        .strip_prefix("parameters: ")
        .or_else(|| detail.strip_prefix("Parameters: "))?;
    let bytes = list.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // `$n = `
        if bytes[i] != b'$' {
            return Some(out);
        }
        let eq = list[i..].find(" = ")? + i;
        i = eq + 3;
        if list[i..].starts_with("NULL") {
            out.push("NULL".into());
            i += 4;
        } else if bytes.get(i) == Some(&b'\'') {
            let start = i;
            i += 1;
            loop {
                match bytes.get(i) {
                    None => break,
                    Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(list[start..i].to_string());
        } else {
            // Unknown shape: keep the rest up to the next `, $`.
            let end = list[i..].find(", $").map(|e| e + i).unwrap_or(list.len());
            out.push(list[i..end].to_string());
            i = end;
        }
        if list[i..].starts_with(", ") {
            i += 2;
        } else {
            break;
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn statement_kinds() {
        assert_eq!(
            parse("duration: 1.532 ms  statement: SELECT 1"),
            Message::Statement {
                duration_ms: Some(1.532),
                kind: Kind::Simple,
                text: "SELECT 1"
            }
        );
        assert_eq!(
            parse("duration: 0.5 ms  execute S_1/C_2: SELECT $1"),
            Message::Statement {
                duration_ms: Some(0.5),
                kind: Kind::Execute,
                text: "SELECT $1"
            }
        );
        assert_eq!(
            parse("execute fetch from S_3/C_4: SELECT $1"),
            Message::Statement {
                duration_ms: None,
                kind: Kind::Execute,
                text: "SELECT $1"
            }
        );
        assert!(matches!(
            parse("duration: 0.1 ms  bind P_0: SELECT 1"),
            Message::Statement {
                kind: Kind::Bind,
                ..
            }
        ));
        assert_eq!(parse("duration: 0.250 ms"), Message::DurationOnly(0.25));
        assert_eq!(parse("checkpoint starting: time"), Message::Other);
        assert_eq!(parse("duration: soon"), Message::Other);
    }

    #[test]
    fn parameter_lists() {
        assert_eq!(
            parameters("parameters: $1 = '42', $2 = NULL, $3 = 'it''s, $4 = x'").unwrap(),
            ["'42'", "NULL", "'it''s, $4 = x'"]
        );
        assert_eq!(parameters("parameters: $1 = 'abc...").unwrap(), ["'abc..."]);
        assert_eq!(parameters("Key (id)=(1) already exists."), None);
        assert_eq!(parameters("parameters: ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn clean_drops_the_terminator() {
        assert_eq!(clean_statement("  SELECT 1;\n"), "SELECT 1");
    }
}
