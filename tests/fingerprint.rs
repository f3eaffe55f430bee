//! `pgadvisor fingerprint` end to end, through the built binary.
//!
//! The golden corpus `fixtures/fingerprint/*.sql` pins exact fingerprints:
//! each file's `--format jsonl` output is committed next to it as
//! `*.expected`. A changed fingerprint breaks users' baselines, so a diff
//! here must be deliberate: rerun with `PGADVISOR_BLESS=1` to rewrite the
//! files and say why in the commit (docs/fingerprint.md, "Stability").

use std::path::{Path, PathBuf};

mod common;

use common::{Run, run_pgadvisor_stdin};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fingerprint")
}

/// `pgadvisor <args>` with `stdin` (none: an empty, closed pipe).
fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_pgadvisor_stdin(args, stdin.unwrap_or_default())
}

#[test]
fn golden_corpus_fingerprints_are_stable() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures/fingerprint exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "golden corpus went missing: {files:?}");
    let bless = std::env::var_os("PGADVISOR_BLESS").is_some();
    let mut stale = Vec::new();
    for sql in &files {
        let out = run(
            &[
                "fingerprint",
                "--format",
                "jsonl",
                sql.to_str().expect("utf-8 path"),
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}: {}", sql.display(), out.stderr);
        assert_eq!(out.stderr, "", "{}", sql.display());
        let got = out.stdout;
        let expected_path = sql.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).expect("write .expected");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with PGADVISOR_BLESS=1",
                expected_path.display()
            )
        });
        if got != want {
            stale.push(format!(
                "{}:\n--- expected\n{want}\n--- got\n{got}",
                sql.display()
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "fingerprints changed:\n{}",
        stale.join("\n")
    );
}

#[test]
fn fallback_fixture_is_all_fallback_and_oltp_all_parsed() {
    let rows = |name: &str| -> Vec<serde_json::Value> {
        let out = run(
            &[
                "fingerprint",
                "--format",
                "json",
                fixtures().join(name).to_str().expect("utf-8 path"),
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).expect("--format json prints a JSON array")
    };
    let fallback = rows("fallback.sql");
    assert_eq!(fallback.len(), 10);
    assert!(
        fallback.iter().all(|r| r["fallback"] == true),
        "{fallback:#?}"
    );
    let oltp = rows("oltp.sql");
    assert!(oltp.iter().all(|r| r["fallback"] == false), "{oltp:#?}");
    // Same shape on lines 2, 3, 4; the IN list, = ANY($1) and the array literal agree.
    let fp = |line: u64| -> String {
        oltp.iter()
            .find(|r| r["line"] == line)
            .map(|r| {
                r["fingerprint"]
                    .as_str()
                    .expect("fingerprint is a string")
                    .to_string()
            })
            .unwrap_or_else(|| panic!("no statement on line {line}"))
    };
    assert_eq!(fp(2), fp(3));
    assert_eq!(fp(2), fp(4));
    assert_eq!(fp(12), fp(13));
    assert_eq!(fp(12), fp(14));
    assert_eq!(fp(12), fp(15));
    assert_ne!(fp(2), fp(12));
    for r in &oltp {
        let f = r["fingerprint"].as_str().expect("fingerprint is a string");
        assert!(
            f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit()),
            "{f}"
        );
    }
}

#[test]
fn table_output() {
    let out = run(
        &[
            "fingerprint",
            fixtures()
                .join("pg_stat_statements.sql")
                .to_str()
                .expect("utf-8 path"),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn reads_standard_input() {
    let out = run(
        &["fingerprint", "--format", "jsonl", "-"],
        Some(b"SELECT 1;\n\nselect 2 -- x\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[0]["normalized"], "SELECT $1");
    assert_eq!(lines[0]["fingerprint"], lines[1]["fingerprint"]);
    assert_eq!(lines[0]["fallback"], false);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.sql");
    let out = run(
        &["fingerprint", missing.to_str().expect("utf-8 path")],
        None,
    );
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    let err = &out.stderr;
    assert!(
        err.contains("cannot read SQL file") && err.contains("nope.sql"),
        "{err}"
    );

    let latin1 = dir.path().join("latin1.sql");
    std::fs::write(&latin1, b"SELECT 1;\nSELECT 'caf\xe9';\n").expect("write fixture");
    let out = run(&["fingerprint", latin1.to_str().expect("utf-8 path")], None);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    let err = &out.stderr;
    assert!(
        err.contains("not UTF-8")
            && err.contains("line 2, byte offset 21")
            && err.contains("iconv"),
        "{err}"
    );

    let empty = dir.path().join("empty.sql");
    std::fs::write(&empty, b"  -- only a comment\n;\n").expect("write fixture");
    let out = run(&["fingerprint", empty.to_str().expect("utf-8 path")], None);
    assert_eq!(out.code, 2);
    let err = &out.stderr;
    assert!(err.contains("holds no SQL statement"), "{err}");

    let out = run(&["fingerprint", "-"], Some(b""));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("standard input holds no SQL statement"));
}

/// Over the whole golden corpus: normalizing is idempotent, and a statement
/// sqlparser parses still parses once normalized.
#[test]
fn golden_corpus_round_trips() {
    use pgadvisor::normalize::{fingerprint, split_statements};
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).expect("fixtures/fingerprint exists") {
        let path = entry.expect("readable dir entry").path();
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("fixture is UTF-8");
        for stmt in split_statements(&src) {
            let once = fingerprint(stmt.text);
            assert_eq!(
                fingerprint(&once.text),
                once,
                "{}:{}",
                path.display(),
                stmt.line
            );
            if Parser::parse_sql(&PostgreSqlDialect {}, stmt.text).is_ok() && !once.fallback {
                assert!(
                    Parser::parse_sql(&PostgreSqlDialect {}, &once.text).is_ok(),
                    "{}:{}: {}",
                    path.display(),
                    stmt.line,
                    once.text
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 50,
        "only {checked} statements in the golden corpus"
    );
}
