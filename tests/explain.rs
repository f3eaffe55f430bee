//! `pgadvisor explain` end to end: the real binary on fixture files, stdin,
//! bad input, and live `--query` against the dev PostgreSQL
//! (PGADVISOR_TEST_DSN), each live test in its own database.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::{Run, TestDb, run_pgadvisor, run_pgadvisor_stdin};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/plans")
        .join(rel)
}

#[test]
fn file_input_shows_the_tree_the_findings_and_the_fix() {
    let f = fixture("seed/email_lookup.before.txt");
    let o = run_pgadvisor(&["explain", f.to_str().expect("utf-8 path")]);
    let out = &o.stdout;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(out.contains("Seq Scan on customers"), "{out}");
    assert!(out.contains("◀ [1] seq-scan-filter"), "{out}");
    assert!(
        out.contains(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_email_idx ON customers (email);"
        ),
        "{out}"
    );
}

#[test]
fn stdin_json_with_several_plans() {
    let input = std::fs::read(fixture("shapes/multiple_plans.json")).expect("fixture");
    let o = run_pgadvisor_stdin(&["explain", "-", "--format", "json"], &input);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = o.json();
    assert_eq!(v["source"], "standard input");
    let plans = v["plans"].as_array().expect("plans");
    assert_eq!(plans.len(), 3);
    assert_eq!(plans[0]["plan"]["root"]["node_type"], "Index Scan");
    assert!(plans[2]["timings"].as_array().is_some_and(|t| t.len() == 2));
}

#[test]
fn fail_on_findings_exit_codes() {
    let before = fixture("seed/customer_bookings.before.json");
    let after = fixture("seed/customer_bookings.after.json");
    let o = run_pgadvisor(&[
        "explain",
        "--fail-on-findings",
        before.to_str().expect("path"),
    ]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    let o = run_pgadvisor(&[
        "explain",
        "--fail-on-findings",
        after.to_str().expect("path"),
    ]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    // Without the flag findings are a report, not a failure.
    let o = run_pgadvisor(&["explain", before.to_str().expect("path")]);
    assert_eq!(o.code, 0);
}

#[test]
fn rules_file_changes_severity_and_typos_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "explain:\n  seq-scan-filter:\n    severity: warning\n",
    )
    .expect("writes");
    let before = fixture("seed/customer_bookings.before.json");
    let o = run_pgadvisor(&[
        "explain",
        "--fail-on-findings",
        "--rules",
        rules.to_str().expect("path"),
        before.to_str().expect("path"),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("| warning  | seq-scan-filter"));
    std::fs::write(&rules, "explain:\n  seq-scan-filtr: {}\n").expect("writes");
    let o = run_pgadvisor(&[
        "explain",
        "--rules",
        rules.to_str().expect("path"),
        before.to_str().expect("path"),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("seq-scan-filtr"), "{}", o.stderr);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbled = dir.path().join("garbled.txt");
    std::fs::write(&garbled, "Seq Scan on t  (cost=0.00..22\n").expect("writes");
    let binary = dir.path().join("binary.bin");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x81]).expect("writes");
    let truncated = dir.path().join("truncated.json");
    let json = std::fs::read_to_string(fixture("shapes/cte_scan.json")).expect("fixture");
    std::fs::write(&truncated, &json[..json.len() / 2]).expect("writes");
    let cases: Vec<(Run, &str)> = vec![
        (
            run_pgadvisor(&["explain", garbled.to_str().expect("path")]),
            "truncated",
        ),
        (
            run_pgadvisor(&["explain", binary.to_str().expect("path")]),
            "not UTF-8",
        ),
        (
            run_pgadvisor(&["explain", truncated.to_str().expect("path")]),
            "invalid JSON",
        ),
        (
            run_pgadvisor(&["explain", "/nonexistent/plan.txt"]),
            "cannot read /nonexistent/plan.txt",
        ),
        (run_pgadvisor_stdin(&["explain"], b""), "empty"),
    ];
    for (o, needle) in cases {
        let err = &o.stderr;
        assert_eq!(o.code, 2, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in {err}");
        assert!(o.stdout.is_empty(), "no partial output on error");
    }
}

// ---- live -------------------------------------------------------------

/// A throwaway database for a live test.
fn live_db(tag: &str) -> TestDb {
    TestDb::create(&format!("explain_{tag}"))
}

/// The single number a query returns.
fn count(db: &TestDb, sql: &str) -> i64 {
    let out = db.psql(sql);
    out.parse()
        .unwrap_or_else(|e| panic!("{sql} returned {out:?}, not a number: {e}"))
}

fn live_json(db: &TestDb, extra: &[&str]) -> (Value, Run) {
    let mut args = vec!["explain", "--dsn", db.dsn(), "--format", "json"];
    args.extend_from_slice(extra);
    let o = run_pgadvisor(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = o.json();
    (v, o)
}

const SETUP: &str = "CREATE TABLE people AS SELECT i AS id, 'user' || i || '@example.com' AS email \
                     FROM generate_series(1, 20000) AS i; ANALYZE people;";

#[test]
fn live_query_finding_and_its_fix() {
    let db = live_db("fix");
    db.psql(SETUP);
    let q = "SELECT id FROM people WHERE email = 'user5@example.com'";
    let (v, _) = live_json(&db, &["--query", q]);
    let plan = &v["plans"][0];
    assert_eq!(plan["plan"]["root"]["actual_rows"], 1.0, "ran with ANALYZE");
    let finding = &plan["findings"][0];
    assert_eq!(finding["rule"], "seq-scan-filter");
    let sql = finding["sql"].as_str().expect("a fix");
    assert_eq!(
        sql,
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS people_email_idx ON public.people (email);"
    );
    // Apply the fix: the finding is gone.
    db.psql(sql);
    db.psql("ANALYZE people");
    let (v, _) = live_json(&db, &["--query", q]);
    assert_eq!(v["plans"][0]["findings"], Value::Array(vec![]), "{v}");
    assert_eq!(v["plans"][0]["plan"]["root"]["node_type"], "Index Scan");
}

#[test]
fn live_writes_are_planned_unless_asked_and_always_rolled_back() {
    let db = live_db("writes");
    db.psql(SETUP);
    let q = "DELETE FROM people WHERE id <= 100";
    let (v, _) = live_json(&db, &["--query", q]);
    assert!(
        v["note"]
            .as_str()
            .is_some_and(|n| n.contains("--analyze-writes")),
        "{v}"
    );
    assert!(
        v["plans"][0]["plan"]["root"].get("actual_rows").is_none(),
        "not run"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM people"), 20000);

    let (v, _) = live_json(&db, &["--query", q, "--analyze-writes"]);
    let root = &v["plans"][0]["plan"]["root"];
    assert_eq!(root["operation"], "Delete");
    assert_eq!(root["children"][0]["actual_rows"], 100.0, "{v}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM people"),
        20000,
        "rolled back"
    );
}

#[test]
fn live_statement_timeout_is_a_clear_error() {
    let db = live_db("timeout");
    let o = run_pgadvisor(&[
        "explain",
        "--dsn",
        db.dsn(),
        "--query",
        "SELECT pg_sleep(5)",
        "--timeout",
        "200ms",
    ]);
    let err = &o.stderr;
    assert_eq!(o.code, 2, "{err}");
    assert!(err.contains("longer than the timeout (200ms)"), "{err}");
}

#[test]
fn live_bad_sql_and_bad_server() {
    let db = live_db("bad");
    let o = run_pgadvisor(&[
        "explain",
        "--dsn",
        db.dsn(),
        "--query",
        "SELECT * FROM missing_table",
    ]);
    let err = &o.stderr;
    assert_eq!(o.code, 2, "{err}");
    assert!(err.contains("missing_table"), "{err}");
    let o = run_pgadvisor(&[
        "explain",
        "--dsn",
        "host=127.0.0.1 port=1 user=nobody password=secret123 dbname=x",
        "--connect-timeout",
        "2s",
        "--query",
        "SELECT 1",
    ]);
    let err = &o.stderr;
    assert_eq!(o.code, 2, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("secret123"), "password leaked: {err}");
}

/// `--fingerprint FP`: the workload's literal sample for that query shape
/// (here from a server log) is explained live.
#[test]
fn live_fingerprint_explains_the_logged_sample() {
    let db = live_db("fingerprint");
    db.psql(SETUP);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("postgresql.log");
    std::fs::write(
        &log,
        "2026-11-22 01:00:00.000 UTC [4242] LOG:  duration: 3.210 ms  statement: SELECT id FROM people WHERE email = 'user77@example.com'\n\
         2026-11-22 01:00:01.000 UTC [4242] LOG:  duration: 0.120 ms  statement: SELECT 1\n",
    )
    .expect("write log");
    let log = log.to_str().expect("utf-8");
    // The fingerprint as `top` reports it for that shape.
    let top = run_pgadvisor(&["top", "--log", log, "--format", "json"]);
    assert_eq!(top.code, 0, "{}", top.stderr);
    let top = top.json();
    let fp = top["shapes"]
        .as_array()
        .expect("shapes")
        .iter()
        .find(|s| {
            s["query"]
                .as_str()
                .is_some_and(|q| q.contains("FROM people"))
        })
        .and_then(|s| s["fingerprint"].as_str())
        .expect("the people lookup is a shape")
        .to_string();
    let (v, _) = live_json(&db, &["--fingerprint", &fp, "--log", log]);
    let plan = &v["plans"][0];
    assert_eq!(plan["plan"]["root"]["actual_rows"], 1.0, "ran with ANALYZE");
    assert_eq!(plan["findings"][0]["rule"], "seq-scan-filter", "{v}");
    // An unknown fingerprint is a clear error.
    let o = run_pgadvisor(&[
        "explain",
        "--dsn",
        db.dsn(),
        "--fingerprint",
        "0000000000000000",
        "--log",
        log,
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("0000000000000000"), "{}", o.stderr);
}
