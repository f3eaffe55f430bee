//! stderr-format logs: `log_line_prefix` + `SEVERITY:  message`, with
//! continuation lines (multi-line statements) starting with a tab and the
//! `DETAIL:` line of a message on the line after it. Prefixes are read
//! loosely so the common ones all work: the default `%m [%p] `, Debian's
//! `%m [%p] %q%u@%d `, and key=value styles such as
//! `%m [%p] user=%u,db=%d,app=%a ` or `%t [%p]: [%l-1] db=%d,user=%u `.

use super::LogRecord;

const SEVERITIES: &[&str] = &[
    "LOG",
    "DETAIL",
    "ERROR",
    "STATEMENT",
    "HINT",
    "CONTEXT",
    "WARNING",
    "FATAL",
    "PANIC",
    "NOTICE",
    "INFO",
    "DEBUG",
    "DEBUG1",
    "DEBUG2",
    "DEBUG3",
    "DEBUG4",
    "DEBUG5",
    "LOCATION",
    "QUERY",
];

/// Split a record's first line into (prefix, severity, message), or
/// `None` when the line carries no `SEVERITY:  ` marker.
pub fn split_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut from = 0;
    while let Some(pos) = line[from..].find(":  ").map(|p| p + from) {
        let before = &line[..pos];
        let word_start = before
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &before[word_start..];
        let boundary_ok = word_start == 0
            || before[..word_start].ends_with(|c: char| c.is_whitespace() || c == ']' || c == ':');
        if boundary_ok && SEVERITIES.contains(&word) {
            let mut msg = &line[pos + 3..];
            // log_error_verbosity = verbose puts the SQLSTATE first.
            if msg.len() > 7
                && msg.as_bytes()[5] == b':'
                && msg.as_bytes()[6] == b' '
                && msg[..5].bytes().all(|b| b.is_ascii_alphanumeric())
            {
                msg = &msg[7..];
            }
            return Some((&line[..word_start], word, msg));
        }
        from = pos + 3;
    }
    None
}

/// Parse the whole text into records; DETAIL lines are folded into the
/// record they belong to.
pub fn parse(text: &str) -> Vec<LogRecord> {
    let mut records: Vec<LogRecord> = Vec::new();
    // Where continuation lines go: the record's message, its detail, or
    // nowhere (after a line we do not keep).
    enum Open {
        Message(usize),
        Detail(usize),
        None,
    }
    let mut open = Open::None;
    for (i, line) in text.lines().enumerate() {
        if let Some(cont) = line.strip_prefix('\t') {
            let target = match open {
                Open::Message(o) => records.get_mut(o).map(|r| &mut r.message),
                Open::Detail(o) => records.get_mut(o).and_then(|r| r.detail.as_mut()),
                Open::None => None,
            };
            if let Some(t) = target {
                t.push('\n');
                t.push_str(cont);
            }
            continue;
        }
        let Some((prefix, severity, msg)) = split_line(line) else {
            open = Open::None;
            continue;
        };
        let fields = prefix_fields(prefix);
        if severity == "DETAIL" {
            // Attach to the last record of the same backend.
            if let Some(r) = records.last_mut()
                && r.detail.is_none()
                && (r.pid == fields.pid || fields.pid.is_none())
            {
                r.detail = Some(msg.to_string());
                open = Open::Detail(records.len() - 1);
                continue;
            }
        }
        records.push(LogRecord {
            severity: severity.to_string(),
            message: msg.to_string(),
            detail: None,
            user: fields.user,
            database: fields.database,
            application: fields.application,
            timestamp: fields.timestamp,
            pid: fields.pid,
            line: i + 1,
        });
        open = Open::Message(records.len() - 1);
    }
    records
}

#[derive(Debug, Default, PartialEq)]
struct PrefixFields {
    timestamp: Option<String>,
    pid: Option<String>,
    user: Option<String>,
    database: Option<String>,
    application: Option<String>,
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "[unknown]").then(|| s.to_string())
}

/// Read what a prefix tells: timestamp, pid, user, database, application.
fn prefix_fields(prefix: &str) -> PrefixFields {
    let mut f = PrefixFields::default();
    let tokens: Vec<&str> = prefix.split_whitespace().collect();
    // `%m`/`%t`: date, time and a zone name or offset.
    if tokens.len() >= 2
        && tokens[0].len() == 10
        && tokens[0].as_bytes()[4] == b'-'
        && tokens[1].contains(':')
    {
        let mut ts = format!("{} {}", tokens[0], tokens[1].trim_end_matches(':'));
        if let Some(zone) = tokens.get(2)
            && !zone.starts_with('[')
            && !zone.contains('=')
            && !zone.contains('@')
            && zone.len() <= 6
        {
            ts.push(' ');
            ts.push_str(zone.trim_end_matches(':'));
        }
        f.timestamp = Some(ts);
    } else if let Some(first) = tokens.first()
        && first.len() > 10
        && first.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        f.timestamp = Some(first.to_string()); // %n: epoch
    }
    for tok in &tokens {
        let t = tok.trim_end_matches(':');
        if let Some(inner) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            let pid: String = inner.chars().take_while(|c| c.is_ascii_digit()).collect();
            if !pid.is_empty() && f.pid.is_none() {
                f.pid = Some(pid);
            }
        }
    }
    // key=value pairs, separated by commas or spaces; app= runs to the
    // next comma (application names may hold spaces).
    let mut kv = false;
    for (key, target) in [
        ("user=", 0),
        ("usr=", 0),
        ("db=", 1),
        ("database=", 1),
        ("dbname=", 1),
        ("app=", 2),
        ("application=", 2),
        ("appname=", 2),
    ] {
        let Some(pos) = find_key(prefix, key) else {
            continue;
        };
        kv = true;
        let rest = &prefix[pos + key.len()..];
        let end = if target == 2 {
            rest.find(',').unwrap_or(rest.len())
        } else {
            rest.find(|c: char| c == ',' || c.is_whitespace())
                .unwrap_or(rest.len())
        };
        let value = non_empty(&rest[..end]);
        let slot = match target {
            0 => &mut f.user,
            1 => &mut f.database,
            _ => &mut f.application,
        };
        if slot.is_none() {
            *slot = value;
        }
    }
    if !kv {
        // Debian's `%q%u@%d`.
        if let Some(tok) = tokens.iter().rev().find(|t| {
            t.contains('@') && !t.starts_with('[') && !t.starts_with('@') && !t.ends_with('@')
        }) && let Some((u, d)) = tok.split_once('@')
        {
            f.user = non_empty(u);
            f.database = non_empty(d.trim_end_matches(':'));
        }
    }
    f
}

/// Position of `key` at a word start (start, after space, comma or `[`).
fn find_key(prefix: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = prefix[from..].find(key).map(|p| p + from) {
        if p == 0 || prefix[..p].ends_with([' ', ',', '[', '(']) {
            return Some(p);
        }
        from = p + key.len();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let f =
            prefix_fields("2026-11-22 01:04:22.832 UTC [10879] user=postgres,db=seed,app=my app ");
        assert_eq!(f.timestamp.as_deref(), Some("2026-11-22 01:04:22.832 UTC"));
        assert_eq!(f.pid.as_deref(), Some("10879"));
        assert_eq!(f.user.as_deref(), Some("postgres"));
        assert_eq!(f.database.as_deref(), Some("seed"));
        assert_eq!(f.application.as_deref(), Some("my app"));
        let f = prefix_fields("2026-11-22 01:04:22 CET [77-1] app@shop ");
        assert_eq!(f.timestamp.as_deref(), Some("2026-11-22 01:04:22 CET"));
        assert_eq!(f.pid.as_deref(), Some("77"));
        assert_eq!(
            (f.user.as_deref(), f.database.as_deref()),
            (Some("app"), Some("shop"))
        );
        let f = prefix_fields("2026-11-22 01:04:22.832 UTC [1] user=,db=,app= ");
        assert_eq!((f.user, f.database, f.application), (None, None, None));
        let f = prefix_fields("2026-11-22 01:04:22 UTC [5]: [3-1] db=shop,user=app ");
        assert_eq!(
            (f.user.as_deref(), f.database.as_deref()),
            (Some("app"), Some("shop"))
        );
    }

    #[test]
    fn severity_marker() {
        let (p, s, m) = split_line("2026-11-22 01:04:22.832 UTC [1] LOG:  duration: 1 ms").unwrap();
        assert_eq!(
            (p, s, m),
            ("2026-11-22 01:04:22.832 UTC [1] ", "LOG", "duration: 1 ms")
        );
        let (_, s, m) = split_line("x [1] ERROR:  42P01: relation \"t\" does not exist").unwrap();
        assert_eq!((s, m), ("ERROR", "relation \"t\" does not exist"));
        assert!(split_line("Nov 22 kernel: eth0: up").is_none());
        assert!(split_line("\tWHERE a = 1").is_none());
    }

    #[test]
    fn continuation_and_detail() {
        let text = "t [1] LOG:  duration: 2.000 ms  execute <unnamed>: SELECT $1\n\
                    \tFROM t\n\
                    t [1] DETAIL:  parameters: $1 = '5'\n\
                    t [2] LOG:  statement: SELECT 2\n";
        let r = parse(text);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].message,
            "duration: 2.000 ms  execute <unnamed>: SELECT $1\nFROM t"
        );
        assert_eq!(r[0].detail.as_deref(), Some("parameters: $1 = '5'"));
        assert_eq!(r[1].line, 4);
    }
}
