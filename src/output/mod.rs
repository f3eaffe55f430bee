//! Terminal and machine output shared by every report: the table style,
//! colour and width decisions, and JSON writing. Commands build their rows;
//! this module decides how they look on this terminal (or pipe).

use std::io::{IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets};

/// `--format` for reports that are either a table or JSON. Commands with
/// more formats (e.g. `check`) define their own enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Human-readable table fitted to the terminal width.
    #[default]
    Table,
    /// Stable JSON, documented in docs/json.md.
    Json,
}

/// Whether stdout is a terminal a person is looking at.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is a terminal (progress bars go there).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Colour only for a terminal, never when `NO_COLOR` is set (any value,
/// per no-color.org) or `TERM=dumb`.
pub fn color_enabled() -> bool {
    color_allowed(
        stdout_is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    )
}

fn color_allowed(
    tty: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    let no_color_set = no_color.is_some_and(|v| !v.is_empty());
    tty && !no_color_set && term.is_none_or(|t| t != "dumb")
}

/// A table in the project's style: UTF-8 box drawing on a terminal,
/// plain ASCII in a pipe, wrapped to the terminal width when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    if stdout_is_terminal() {
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.load_style(presets::ASCII_MARKDOWN);
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    if !color_enabled() {
        t.force_no_tty();
    }
    t.set_header(header.iter().copied());
    t
}

/// Write a value as pretty JSON followed by a newline.
pub fn write_json<W: Write, T: serde::Serialize>(out: &mut W, value: &T) -> anyhow::Result<()> {
    // Through io::Error so a closed pipe (`… | head`) is recognised as one.
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Shorten a query text for a table cell: one line, at most `max` chars.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Milliseconds in a human unit (`812 µs`, `12.3 ms`, `4.52 s`, `1h 02m`).
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "-".into();
    }
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0).round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

/// Bytes in binary units (`8.0 kB`, `1.4 MB`), as PostgreSQL's pg_size_pretty does.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_wins_over_terminal() {
        assert!(color_allowed(true, None, Some(OsStr::new("xterm"))));
        assert!(!color_allowed(true, Some(OsStr::new("1")), None));
        assert!(!color_allowed(false, None, None));
        assert!(!color_allowed(true, None, Some(OsStr::new("dumb"))));
        // An empty NO_COLOR does not disable colour (no-color.org).
        assert!(color_allowed(true, Some(OsStr::new("")), None));
    }

    #[test]
    fn human_units() {
        assert_eq!(duration_ms(0.25), "250 µs");
        assert_eq!(duration_ms(12.34), "12.3 ms");
        assert_eq!(duration_ms(4520.0), "4.52 s");
        assert_eq!(duration_ms(62_000.0), "1m 02s");
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(8192), "8.0 kB");
        assert_eq!(shorten("SELECT  a\n FROM t", 10), "SELECT a …");
    }
}
