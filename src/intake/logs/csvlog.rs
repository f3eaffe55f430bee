//! csvlog: one CSV record per message with a fixed column list
//! (`log_time, user_name, database_name, process_id, connection_from,
//! session_id, session_line_num, command_tag, session_start_time,
//! virtual_transaction_id, transaction_id, error_severity, sql_state_code,
//! message, detail, hint, internal_query, internal_query_pos, context,
//! query, query_pos, location, application_name` and, from PostgreSQL 13/14,
//! `backend_type, leader_pid, query_id`). Multi-line statements are quoted
//! fields, so lines and records differ.

use std::path::Path;

use anyhow::{Result, bail};

use super::LogRecord;

const MIN_FIELDS: usize = 23;
const LOG_TIME: usize = 0;
const USER: usize = 1;
const DATABASE: usize = 2;
const PID: usize = 3;
const SEVERITY: usize = 11;
const MESSAGE: usize = 13;
const DETAIL: usize = 14;
const APPLICATION: usize = 22;

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Whether the text's first record has csvlog's shape.
pub fn looks_like(text: &str) -> bool {
    let mut r = reader(text);
    match r.records().next() {
        Some(Ok(rec)) => {
            rec.len() >= MIN_FIELDS
                && rec
                    .get(LOG_TIME)
                    .is_some_and(|t| t.len() >= 19 && t.as_bytes()[4] == b'-')
                && rec.get(SEVERITY).is_some_and(|s| {
                    s.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                        && !s.is_empty()
                })
        }
        _ => false,
    }
}

fn opt(rec: &csv::StringRecord, i: usize) -> Option<String> {
    rec.get(i).filter(|s| !s.is_empty()).map(str::to_string)
}

pub fn parse(text: &str, path: &Path) -> Result<Vec<LogRecord>> {
    let mut out = Vec::new();
    for (i, rec) in reader(text).records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => bail!(
                "{} is not a complete csvlog file: record {} cannot be read ({e}). The file looks \
                 truncated or edited; copy the log again (csvlog files are written whole records \
                 at a time, so the server's own file is complete).",
                path.display(),
                i + 1
            ),
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.len() < MIN_FIELDS {
            bail!(
                "{} is not a complete csvlog file: record {} (line {line}) has {} fields where \
                 csvlog writes at least {MIN_FIELDS}. The file looks truncated (a copy taken \
                 while the server was writing, or cut with head/tail); copy the whole log file \
                 again.",
                path.display(),
                i + 1,
                rec.len()
            );
        }
        out.push(LogRecord {
            severity: rec.get(SEVERITY).unwrap_or_default().to_string(),
            message: rec.get(MESSAGE).unwrap_or_default().to_string(),
            detail: opt(&rec, DETAIL),
            user: opt(&rec, USER),
            database: opt(&rec, DATABASE),
            application: opt(&rec, APPLICATION),
            timestamp: opt(&rec, LOG_TIME),
            pid: opt(&rec, PID),
            line,
        });
    }
    Ok(out)
}
