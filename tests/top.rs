//! `pgadvisor top` and `pgadvisor snapshot` end to end: the real binary on
//! the shipped fixtures (output pinned with insta) and on the dev
//! PostgreSQL server (its own throwaway database per test).
#![allow(clippy::unwrap_used)] // in tests a panic is the failure report

use std::path::PathBuf;

use serde_json::Value;

mod common;

use common::{Run, TestDb};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the binary from the crate root (fixture paths are relative to it)
/// with the harness's clean environment.
fn pgadvisor(args: &[&str]) -> Run {
    common::run(common::pgadvisor().args(args).current_dir(root()))
}

fn ok(args: &[&str]) -> String {
    let o = pgadvisor(args);
    assert_eq!(o.code, 0, "{args:?}\nstderr: {}", o.stderr);
    o.stdout
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap()
}

#[test]
fn csv_export_table() {
    let out = ok(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--limit",
        "10",
    ]);
    insta::assert_snapshot!("csv_export_table", out);
}

#[test]
fn csv_export_json() {
    let out = ok(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--limit",
        "5",
        "--format",
        "json",
    ]);
    insta::assert_snapshot!("csv_export_json", out);
}

#[test]
fn json_export_matches_csv_export() {
    let csv = json(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--limit",
        "0",
        "--format",
        "json",
    ]);
    let js = json(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.json",
        "--limit",
        "0",
        "--format",
        "json",
    ]);
    assert_eq!(csv["source"]["kind"], "csv");
    assert_eq!(js["source"]["kind"], "json");
    assert_eq!(csv["shapes"], js["shapes"]);
    assert_eq!(csv["totals"], js["totals"]);
    let shapes = csv["shapes"].as_array().unwrap();
    assert_eq!(
        shapes.len() as u64,
        csv["totals"]["shapes"].as_u64().unwrap()
    );
    let pct: f64 = shapes
        .iter()
        .map(|s| s["pct_total_time"].as_f64().unwrap())
        .sum();
    assert!((pct - 100.0).abs() < 0.5, "{pct}");
}

#[test]
fn sort_limit_and_min_calls() {
    let by_calls = json(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--sort",
        "calls",
        "--limit",
        "3",
        "--format",
        "json",
    ]);
    let calls: Vec<i64> = by_calls["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["calls"].as_i64().unwrap())
        .collect();
    assert_eq!(calls.len(), 3);
    assert!(calls.windows(2).all(|w| w[0] >= w[1]), "{calls:?}");
    let busy = json(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--min-calls",
        "50",
        "--limit",
        "0",
        "--format",
        "json",
    ]);
    let shapes = busy["shapes"].as_array().unwrap();
    assert!(!shapes.is_empty());
    assert!(shapes.iter().all(|s| s["calls"].as_i64().unwrap() >= 50));
    assert!(shapes.len() < busy["totals"]["shapes"].as_u64().unwrap() as usize);
}

#[test]
fn pg13_and_pg17_exports() {
    let out = ok(&["top", "--stats", "fixtures/stats/pg13.csv"]);
    insta::assert_snapshot!("pg13_table", out);
    let pg17 = json(&[
        "top",
        "--stats",
        "fixtures/stats/pg17.csv",
        "--sort",
        "io",
        "--format",
        "json",
    ]);
    let first = &pg17["shapes"][0];
    assert_eq!(first["temp_blks_read"], 10);
    assert_eq!(first["io_time_ms"], 6.0);
}

#[test]
fn log_fixtures_in_three_formats() {
    let mut reports = Vec::new();
    for (file, kind) in [
        ("fixtures/logs/seed-platform.log", "log-stderr"),
        ("fixtures/logs/seed-platform.csv", "log-csv"),
        ("fixtures/logs/seed-platform.json", "log-json"),
    ] {
        let r = json(&["top", "--log", file, "--limit", "0", "--format", "json"]);
        assert_eq!(r["source"]["kind"], kind);
        assert!(r["totals"]["samples"].as_u64().unwrap() > 100);
        assert_eq!(r["totals"]["samples"], r["totals"]["calls"]);
        reports.push(r);
    }
    let out = ok(&[
        "top",
        "--log",
        "fixtures/logs/seed-platform.log",
        "--limit",
        "5",
    ]);
    insta::assert_snapshot!("stderr_log_table", out);
    // One shape per statement whatever the values: extended-protocol
    // executes (`$n` text) and simple-protocol literals fold together.
    let shapes = reports[2]["shapes"].as_array().unwrap();
    let emotion: Vec<&Value> = shapes
        .iter()
        .filter(|s| s["query"].as_str().unwrap().starts_with("SELECT avg"))
        .collect();
    assert_eq!(emotion.len(), 1, "{emotion:?}");
    assert!(emotion[0]["calls"].as_i64().unwrap() > 1);
}

#[test]
fn a_log_without_statements_says_how_to_log_them() {
    let o = pgadvisor(&["top", "--log", "fixtures/logs/no-statements.log"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stderr.contains("log_min_duration_statement"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.contains("no statements matched"), "{}", o.stdout);
}

#[test]
fn several_logs_at_once() {
    let r = json(&[
        "top",
        "--log",
        "fixtures/logs/default-prefix.log",
        "--log",
        "fixtures/logs/seed-platform.json",
        "--format",
        "json",
    ]);
    assert_eq!(r["source"]["kind"], "log-stderr+log-json");
}

#[test]
fn bad_inputs_exit_2_naming_the_file() {
    for (args, needle) in [
        (
            vec!["top", "--stats", "fixtures/bad/truncated.csv"],
            "truncated",
        ),
        (
            vec!["top", "--stats", "fixtures/bad/truncated.json"],
            "truncated",
        ),
        (vec!["top", "--stats", "fixtures/bad/empty.csv"], "is empty"),
        (
            vec!["top", "--stats", "fixtures/bad/latin1.csv"],
            "not UTF-8",
        ),
        (
            vec!["top", "--stats", "fixtures/bad/not-pgss.csv"],
            "\\copy",
        ),
        (
            vec!["top", "--log", "fixtures/bad/unknown.log"],
            "cannot tell the format",
        ),
        (vec!["top", "--log", "fixtures/bad/latin1.log"], "iconv"),
        (vec!["top", "--log", "fixtures/bad/empty.csv"], "is empty"),
        (
            vec!["top", "--stats", "fixtures/does-not-exist.csv"],
            "cannot read",
        ),
        (
            vec![
                "top",
                "--stats",
                "fixtures/stats/pg13.csv",
                "--since",
                "fixtures/stats/pg17.csv",
            ],
            "not a pgadvisor snapshot",
        ),
    ] {
        let o = pgadvisor(&args);
        let err = &o.stderr;
        assert_eq!(o.code, 2, "{args:?}: {err}");
        let file = args.last().unwrap();
        assert!(err.contains(file), "{args:?} must name {file}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(o.stdout.is_empty(), "no partial report: {}", o.stdout);
    }
}

#[test]
fn snapshot_of_an_export_and_delta() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("base.json");
    let snap_s = snap.to_str().unwrap();
    let out = ok(&[
        "snapshot",
        "save",
        snap_s,
        "--stats",
        "fixtures/stats/seed-platform.csv",
    ]);
    assert!(out.contains("saved"), "{out}");
    // Refuses to overwrite a baseline by accident.
    let again = pgadvisor(&[
        "snapshot",
        "save",
        snap_s,
        "--stats",
        "fixtures/stats/seed-platform.csv",
    ]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--force"));
    // Nothing happened since: the delta is empty.
    let d = json(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--since",
        snap_s,
        "--format",
        "json",
    ]);
    assert_eq!(d["totals"]["calls"], 0);
    assert_eq!(d["source"]["kind"], "snapshot");
    let show = json(&["snapshot", "show", snap_s, "--format", "json"]);
    let export = json(&[
        "top",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--format",
        "json",
    ]);
    assert_eq!(show["entries"], export["totals"]["statements"]);
    assert_eq!(show["calls"], export["totals"]["calls"]);
    assert_eq!(show["format_version"], 1);
}

// ---------------------------------------------------------------------------
// Against the dev server.

/// A seed-platform database of its own (scale 0.01), dropped at the end.
fn seed_db(test: &str) -> TestDb {
    let db = TestDb::create(test);
    db.load_seed_platform(0.01);
    db
}

/// Run the email lookup with `n` different literals.
fn email_lookups(db: &TestDb, from: usize, n: usize) {
    let sql: String = (from..from + n)
        .map(|i| {
            format!("SELECT id, status FROM app.customers WHERE email = 'user{i}@example.com';\n")
        })
        .collect();
    db.psql(&sql);
}

/// `top --format json` on the live server, limited to this database.
fn live_top(db: &TestDb, extra: &[&str]) -> Value {
    let mut args = vec![
        "top",
        "--dsn",
        db.dsn(),
        "--only-db",
        db.name(),
        "--limit",
        "0",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

fn email_shapes(report: &Value) -> Vec<Value> {
    report["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["query"]
                .as_str()
                .unwrap()
                .contains("FROM app.customers WHERE email =")
        })
        .cloned()
        .collect()
}

#[test]
fn live_server_groups_literals_into_one_shape() {
    let db = seed_db("top_live");
    // psql -c with several statements sends one simple query: run them one
    // by one so each is its own pg_stat_statements call.
    for i in 0..7 {
        email_lookups(&db, 100 + i, 1);
    }
    let r = live_top(&db, &[]);
    assert_eq!(r["source"]["kind"], "live");
    assert!(r["server_version_num"].as_i64().unwrap() >= 130000);
    let email = email_shapes(&r);
    assert_eq!(email.len(), 1, "one shape whatever the literal: {email:?}");
    assert_eq!(email[0]["calls"], 7);
    assert_eq!(email[0]["database"], db.name());
    assert_eq!(email[0]["user"], "postgres");
    assert_eq!(email[0]["queryids"].as_array().unwrap().len(), 1);
    // pgadvisor's own statements (sql/*.sql) are not part of the workload.
    assert!(r["shapes"].as_array().unwrap().iter().all(|s| {
        let q = s["query"].as_str().unwrap();
        !q.contains("FROM pg_stat_statements s") && !q.contains("pg_available_extensions")
    }));
}

#[test]
fn snapshot_then_top_since_shows_only_the_delta() {
    let db = seed_db("top_since");
    for i in 0..5 {
        email_lookups(&db, 200 + i, 1);
    }
    db.psql("SELECT count(*) FROM app.departments");
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("before.json");
    let snap_s = snap.to_str().unwrap();
    let saved = ok(&["snapshot", "save", snap_s, "--dsn", db.dsn()]);
    assert!(saved.starts_with("saved "), "{saved}");
    for i in 0..3 {
        email_lookups(&db, 300 + i, 1);
    }
    let delta = live_top(&db, &["--since", snap_s]);
    assert_eq!(delta["source"]["kind"], "snapshot");
    let email = email_shapes(&delta);
    assert_eq!(email.len(), 1, "{email:?}");
    assert_eq!(email[0]["calls"], 3, "only the calls after the snapshot");
    assert!(
        delta["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| { !s["query"].as_str().unwrap().contains("app.departments") }),
        "statements idle since the snapshot are not in the window: {delta}"
    );
    // Without --since, everything is there.
    let all = live_top(&db, &[]);
    assert_eq!(email_shapes(&all)[0]["calls"], 8);
}

#[test]
fn live_database_without_the_extension_says_how_to_enable_it() {
    let db = TestDb::create("top_noext");
    // The test services' template1 carries the extension; this database must not.
    db.psql("DROP EXTENSION IF EXISTS pg_stat_statements");
    let o = pgadvisor(&["top", "--dsn", db.dsn()]);
    let err = &o.stderr;
    assert_eq!(o.code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "CREATE EXTENSION pg_stat_statements; in database {}",
            db.name()
        )),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn read_only_role_sees_its_own_statements_and_learns_about_pg_read_all_stats() {
    let db = seed_db("top_ro");
    let role = format!("pgadvisor_ro_{}", std::process::id());
    common::psql(&common::pg_dsn(), &format!("CREATE ROLE {role} LOGIN"));
    struct DropRole(String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            let _ = common::pg_tool("psql")
                .args(["-q", "-X", "-d", &common::pg_dsn(), "-c"])
                .arg(format!("DROP ROLE IF EXISTS {}", self.0))
                .output();
        }
    }
    let _cleanup = DropRole(role.clone());
    email_lookups(&db, 1, 1); // as postgres: hidden from the read-only role
    let ro_dsn = common::dsn_with(db.dsn(), &[("user", &role)]);
    common::psql(
        &ro_dsn,
        "SELECT count(*) FROM pg_class WHERE relname = 'pg_type'",
    );
    let o = pgadvisor(&[
        "top",
        "--dsn",
        &ro_dsn,
        "--only-db",
        db.name(),
        "--format",
        "json",
    ]);
    let err = &o.stderr;
    assert_eq!(o.code, 0, "{err}");
    assert!(
        err.contains(&format!("GRANT pg_read_all_stats TO {role}")),
        "{err}"
    );
    let r: Value = serde_json::from_str(&o.stdout).unwrap();
    let shapes = r["shapes"].as_array().unwrap();
    assert!(
        shapes.iter().all(|s| s["user"] == role.as_str()),
        "{shapes:?}"
    );
    assert!(
        shapes
            .iter()
            .any(|s| s["query"].as_str().unwrap().contains("FROM pg_class"))
    );
}
