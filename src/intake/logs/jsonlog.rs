//! jsonlog (PostgreSQL 15+): one JSON object per line with the fields
//! `timestamp`, `user`, `dbname`, `pid`, `error_severity`, `message`,
//! `detail`, `application_name` (absent fields are simply missing).

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::Value;

use super::LogRecord;

/// Whether a line is a jsonlog object.
pub fn looks_like(line: &str) -> bool {
    matches!(
        serde_json::from_str::<Value>(line),
        Ok(Value::Object(m)) if m.contains_key("error_severity") && m.contains_key("message")
    )
}

fn field(m: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    match m.get(k)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Vec<LogRecord>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let m = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => bail!(
                "{} line {} is not a jsonlog object. jsonlog files hold one JSON object per \
                 line; point --log at the server's .json log file.",
                path.display(),
                i + 1
            ),
            Err(e) => bail!(
                "{} line {} is not valid JSON ({e}). The file looks truncated or edited (a copy \
                 taken while the server was writing, or cut mid-line); copy the whole log file \
                 again.",
                path.display(),
                i + 1
            ),
        };
        out.push(LogRecord {
            severity: field(&m, "error_severity").unwrap_or_default(),
            message: field(&m, "message").unwrap_or_default(),
            detail: field(&m, "detail"),
            user: field(&m, "user"),
            database: field(&m, "dbname"),
            application: field(&m, "application_name"),
            timestamp: field(&m, "timestamp"),
            pid: field(&m, "pid"),
            line: i + 1,
        });
    }
    Ok(out)
}
