//! `pgadvisor explain` end to end: the real binary on fixture files, stdin,
//! bad input, and live `--query` against the dev PostgreSQL
//! (PGADVISOR_TEST_DSN), each live test in its own database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgadvisor"));
    c.env("NO_COLOR", "1").env_remove("DATABASE_URL");
    c
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/plans")
        .join(rel)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs the binary")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns the binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("writes stdin");
    child.wait_with_output().expect("waits")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn file_input_shows_the_tree_the_findings_and_the_fix() {
    let f = fixture("seed/email_lookup.before.txt");
    let o = run(&["explain", f.to_str().expect("utf-8 path")]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
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
    let o = run_stdin(&["explain", "-", "--format", "json"], &input);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON output");
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
    let o = run(&[
        "explain",
        "--fail-on-findings",
        before.to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o.stdout));
    let o = run(&[
        "explain",
        "--fail-on-findings",
        after.to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    // Without the flag findings are a report, not a failure.
    let o = run(&["explain", before.to_str().expect("path")]);
    assert_eq!(code(&o), 0);
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
    let o = run(&[
        "explain",
        "--fail-on-findings",
        "--rules",
        rules.to_str().expect("path"),
        before.to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("| warning  | seq-scan-filter"));
    std::fs::write(&rules, "explain:\n  seq-scan-filtr: {}\n").expect("writes");
    let o = run(&[
        "explain",
        "--rules",
        rules.to_str().expect("path"),
        before.to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("seq-scan-filtr"),
        "{}",
        text(&o.stderr)
    );
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
    let cases: Vec<(Output, &str)> = vec![
        (
            run(&["explain", garbled.to_str().expect("path")]),
            "truncated",
        ),
        (
            run(&["explain", binary.to_str().expect("path")]),
            "not UTF-8",
        ),
        (
            run(&["explain", truncated.to_str().expect("path")]),
            "invalid JSON",
        ),
        (
            run(&["explain", "/nonexistent/plan.txt"]),
            "cannot read /nonexistent/plan.txt",
        ),
        (run_stdin(&["explain"], b""), "empty"),
    ];
    for (o, needle) in cases {
        let err = text(&o.stderr);
        assert_eq!(code(&o), 2, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in {err}");
        assert!(o.stdout.is_empty(), "no partial output on error");
    }
}

// ---- live -------------------------------------------------------------

fn test_dsn() -> String {
    std::env::var("PGADVISOR_TEST_DSN").unwrap_or_else(|_| {
        panic!(
            "PGADVISOR_TEST_DSN is not set: run scripts/test (or `scripts/testenv up && source target/testenv/env.sh`) \
             to point the tests at a PostgreSQL server"
        )
    })
}

/// A throwaway database, dropped on drop.
struct TestDb {
    name: String,
    rt: tokio::runtime::Runtime,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    fn new(tag: &str) -> TestDb {
        let name = format!(
            "pgadvisor_explain_{tag}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let db = TestDb { name, rt };
        let admin = test_dsn();
        let create = format!("CREATE DATABASE {}", db.name);
        db.rt.block_on(async {
            let client = connect(&admin).await;
            client
                .batch_execute(&create)
                .await
                .expect("creates the test database");
        });
        db
    }

    fn dsn(&self) -> String {
        format!("{} dbname={}", test_dsn(), self.name)
    }

    fn exec(&self, sql: &str) {
        let dsn = self.dsn();
        self.rt.block_on(async {
            let client = connect(&dsn).await;
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    fn count(&self, sql: &str) -> i64 {
        let dsn = self.dsn();
        self.rt.block_on(async {
            let client = connect(&dsn).await;
            client
                .query_one(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get::<_, i64>(0)
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = test_dsn();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        self.rt.block_on(async {
            let client = connect(&admin).await;
            let _ = client.batch_execute(&drop).await;
        });
    }
}

async fn connect(dsn: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn live_json(db: &TestDb, extra: &[&str]) -> (Value, Output) {
    let dsn = db.dsn();
    let mut args = vec!["explain", "--dsn", dsn.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON output");
    (v, o)
}

const SETUP: &str = "CREATE TABLE people AS SELECT i AS id, 'user' || i || '@example.com' AS email \
                     FROM generate_series(1, 20000) AS i; ANALYZE people;";

#[test]
fn live_query_finding_and_its_fix() {
    let db = TestDb::new("fix");
    db.exec(SETUP);
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
    db.exec(sql);
    db.exec("ANALYZE people");
    let (v, _) = live_json(&db, &["--query", q]);
    assert_eq!(v["plans"][0]["findings"], Value::Array(vec![]), "{v}");
    assert_eq!(v["plans"][0]["plan"]["root"]["node_type"], "Index Scan");
}

#[test]
fn live_writes_are_planned_unless_asked_and_always_rolled_back() {
    let db = TestDb::new("writes");
    db.exec(SETUP);
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
    assert_eq!(db.count("SELECT count(*) FROM people"), 20000);

    let (v, _) = live_json(&db, &["--query", q, "--analyze-writes"]);
    let root = &v["plans"][0]["plan"]["root"];
    assert_eq!(root["operation"], "Delete");
    assert_eq!(root["children"][0]["actual_rows"], 100.0, "{v}");
    assert_eq!(
        db.count("SELECT count(*) FROM people"),
        20000,
        "rolled back"
    );
}

#[test]
fn live_statement_timeout_is_a_clear_error() {
    let db = TestDb::new("timeout");
    let dsn = db.dsn();
    let o = run(&[
        "explain",
        "--dsn",
        &dsn,
        "--query",
        "SELECT pg_sleep(5)",
        "--timeout",
        "200ms",
    ]);
    let err = text(&o.stderr);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("longer than the timeout (200ms)"), "{err}");
}

#[test]
fn live_bad_sql_and_bad_server() {
    let db = TestDb::new("bad");
    let dsn = db.dsn();
    let o = run(&[
        "explain",
        "--dsn",
        &dsn,
        "--query",
        "SELECT * FROM missing_table",
    ]);
    let err = text(&o.stderr);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("missing_table"), "{err}");
    let o = run(&[
        "explain",
        "--dsn",
        "host=127.0.0.1 port=1 user=nobody password=secret123 dbname=x",
        "--connect-timeout",
        "2s",
        "--query",
        "SELECT 1",
    ]);
    let err = text(&o.stderr);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("secret123"), "password leaked: {err}");
}

/// `--fingerprint FP`: the workload's literal sample for that query shape
/// (here from a server log) is explained live.
#[test]
fn live_fingerprint_explains_the_logged_sample() {
    let db = TestDb::new("fingerprint");
    db.exec(SETUP);
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
    let top = run(&["top", "--log", log, "--format", "json"]);
    assert_eq!(code(&top), 0, "{}", text(&top.stderr));
    let top: Value = serde_json::from_slice(&top.stdout).expect("JSON");
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
    let o = run(&[
        "explain",
        "--dsn",
        &db.dsn(),
        "--fingerprint",
        "0000000000000000",
        "--log",
        log,
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("0000000000000000"),
        "{}",
        text(&o.stderr)
    );
}
