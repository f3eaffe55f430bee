//! `pgadvisor fingerprint [FILE|-]`: normalized text and fingerprint per
//! statement. The rules live in `normalize`; this file reads the input,
//! batches it through a `Fingerprinter` on all cores and prints.

use std::io::{BufWriter, Read, Write};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::normalize::{Fingerprint, Fingerprinter, Normalized, split_statements};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File of `;`-terminated SQL statements (or pg_stat_statements texts
    /// with `$n`), or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: FingerprintFormat,
}

/// `--format` of `fingerprint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum FingerprintFormat {
    /// One row per statement: line, fingerprint, parsed/fallback, normalized text.
    #[default]
    Table,
    /// One JSON array of `{line, fingerprint, normalized, fallback}` objects.
    Json,
    /// One such object per line, written as the input is processed (big inputs).
    Jsonl,
}

/// One statement in the JSON outputs (docs/fingerprint.md).
#[derive(Debug, Serialize)]
struct Row<'a> {
    line: usize,
    fingerprint: Fingerprint,
    normalized: &'a str,
    fallback: bool,
}

/// Statements handed to the fingerprinter at a time: output starts early
/// and memory stays bounded on big files, while batches stay big enough
/// for both cores.
const BATCH: usize = 1 << 16;

/// Width of the normalized-text column in the table.
const TEXT_WIDTH: usize = 100;

pub async fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let (name, bytes) = read_input(&args.input)?;
    let sql = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        anyhow::anyhow!(
            "{name} is not UTF-8 text (invalid byte on line {line}, byte offset {offset}); \
             convert it first, e.g. `iconv -f latin1 -t utf-8 {name}`"
        )
    })?;
    let statements = split_statements(&sql);
    if statements.is_empty() {
        bail!(
            "{name} holds no SQL statement (only whitespace or comments); give a file of `;`-terminated statements"
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut fingerprinter = Fingerprinter::new();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());

    match args.format {
        FingerprintFormat::Jsonl => {
            for batch in statements.chunks(BATCH) {
                let texts: Vec<&str> = batch.iter().map(|s| s.text).collect();
                let results = fingerprinter.fingerprint_all(&texts, threads);
                for (stmt, n) in batch.iter().zip(&results) {
                    serde_json::to_writer(&mut out, &row(stmt.line, n))?;
                    out.write_all(b"\n")?;
                }
            }
        }
        FingerprintFormat::Json | FingerprintFormat::Table => {
            let texts: Vec<&str> = statements.iter().map(|s| s.text).collect();
            let results = fingerprinter.fingerprint_all(&texts, threads);
            if args.format == FingerprintFormat::Json {
                let rows: Vec<Row<'_>> = statements
                    .iter()
                    .zip(&results)
                    .map(|(stmt, n)| row(stmt.line, n))
                    .collect();
                crate::output::write_json(&mut out, &rows)?;
            } else {
                let mut table =
                    crate::output::table(&["line", "fingerprint", "parser", "normalized"]);
                for (stmt, n) in statements.iter().zip(&results) {
                    table.add_row(vec![
                        stmt.line.to_string(),
                        n.fingerprint.to_string(),
                        if n.fallback { "fallback" } else { "parsed" }.to_string(),
                        crate::output::shorten(&n.text, TEXT_WIDTH),
                    ]);
                }
                writeln!(out, "{table}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

fn row(line: usize, n: &Normalized) -> Row<'_> {
    Row {
        line,
        fingerprint: n.fingerprint,
        normalized: &n.text,
        fallback: n.fallback,
    }
}

/// The input's display name and bytes.
fn read_input(input: &str) -> anyhow::Result<(String, Vec<u8>)> {
    if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read SQL from standard input")?;
        Ok(("standard input".to_string(), bytes))
    } else {
        let bytes = std::fs::read(input).with_context(|| {
            format!("cannot read SQL file {input}; check the path and its permissions")
        })?;
        Ok((input.to_string(), bytes))
    }
}
