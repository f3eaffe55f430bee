//! `pgadvisor check` end to end: the real binary against the throwaway
//! PostgreSQL. Each test gets its own database with the seed-platform
//! workload, runs pgbench briefly so pg_stat_statements fills, then checks.
//!
//! pg_stat_statements is server-wide and other test suites share the
//! server, so tests that must see only their own statements read an export
//! of their database's rows (`--stats`), the way a CI job exports from a
//! shared server; the live test asserts only about its own query.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_pgadvisor");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/seed-platform");
/// seed-platform scale: 4,000 customers, loads in about a second.
const SCALE: f64 = 0.02;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test, or `scripts/testenv up && source target/testenv/env.sh`")
    })
}

fn pg_bin(tool: &str) -> PathBuf {
    Path::new(&env("PGADVISOR_TEST_PG_BINDIR")).join(tool)
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A database of our own, dropped at the end of the test.
struct TestDb {
    name: String,
    dsn: String,
    dir: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    fn new(tag: &str) -> TestDb {
        let name = format!(
            "pgadvisor_check_{tag}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = env("PGADVISOR_TEST_DSN");
        run_ok(Command::new(pg_bin("psql")).args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &admin,
            "-c",
            &format!("CREATE DATABASE {name}"),
        ]));
        let db = TestDb {
            dsn: format!("{admin} dbname={name}"),
            name,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        db.psql(&["-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"]);
        db
    }

    fn psql(&self, args: &[&str]) -> Output {
        run_ok(
            Command::new(pg_bin("psql"))
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.dsn])
                .args(args),
        )
    }

    /// seed-platform schema and data, then a short pgbench run of its query mix.
    fn load_workload(&self) {
        self.psql(&["-f", &format!("{SEED}/schema.sql")]);
        self.psql(&[
            "-v",
            &format!("scale={SCALE}"),
            "-f",
            &format!("{SEED}/data.sql"),
        ]);
        let weights = std::fs::read_to_string(format!("{SEED}/weights.txt")).expect("weights");
        let ncust = (200_000.0 * SCALE) as i64;
        let mut cmd = Command::new(pg_bin("pgbench"));
        cmd.current_dir(SEED).args([
            "-n",
            "-T",
            "3",
            "-c",
            "2",
            "-j",
            "2",
            "-D",
            &format!("ncust={ncust}"),
            "-D",
            &format!("nconv={}", ncust / 2),
        ]);
        for w in weights.lines().filter(|l| !l.trim().is_empty()) {
            cmd.args(["-f", &format!("pgbench/{}", w.trim())]);
        }
        cmd.args(["-d", &self.dsn]);
        run_ok(&mut cmd);
    }

    /// Run one statement `times` times, each its own execution.
    fn repeat(&self, sql: &str, times: usize) {
        let script = format!("{sql};\n").repeat(times);
        let file = self.path(&format!(
            "repeat_{}.sql",
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&file, script).expect("write script");
        self.psql(&["-f", file.to_str().expect("utf-8 path")]);
    }

    /// This database's pg_stat_statements rows as a CSV export, the way
    /// docs/intake.md tells users to take one.
    fn export_stats(&self, file: &str) -> PathBuf {
        let path = self.path(file);
        self.psql(&[
            "-c",
            &format!(
                "\\copy (SELECT s.* FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
                 WHERE d.datname = current_database()) TO '{}' CSV HEADER",
                path.display()
            ),
        ]);
        path
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new(pg_bin("psql"))
            .args(["-X", "-q", "-d", &env("PGADVISOR_TEST_DSN"), "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

fn pgadvisor(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pgadvisor")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn clean_workload_passes() {
    let db = TestDb::new("clean");
    db.load_workload();
    let stats = db.export_stats("stats.csv");
    let junit = db.path("junit.xml");
    let out = pgadvisor(&[
        "check",
        "--stats",
        stats.to_str().expect("path"),
        "--format",
        "junit",
        "--output",
        junit.to_str().expect("path"),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        code(&out),
        0,
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(stdout.starts_with("check passed: 0 errors"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    // Every rule that ran shows the shapes it checked as passing testcases.
    assert!(xml.contains("<testsuite name=\"slow-mean-time\""), "{xml}");
    assert!(
        xml.contains("app.customers"),
        "the pgbench queries were checked: {xml}"
    );
}

#[test]
fn slow_query_fails_and_appears_in_junit() {
    let db = TestDb::new("slow");
    db.load_workload();
    db.repeat("SELECT pg_sleep(0.2)", 4);
    let junit = db.path("junit.xml");
    let out = pgadvisor(&[
        "check",
        "--dsn",
        &db.dsn,
        "--format",
        "junit",
        "--output",
        junit.to_str().expect("path"),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        code(&out),
        1,
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(stdout.starts_with("check failed:"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    // Our database's pg_sleep shape has a slow-mean-time testcase with a
    // failure (the live server also holds other suites' statements).
    let ours = format!("[{} ", db.name);
    let case = xml
        .split("<testcase ")
        .find(|c| {
            c.contains(&ours)
                && c.contains("pg_sleep")
                && c.contains("classname=\"pgadvisor.check.slow-mean-time\"")
        })
        .unwrap_or_else(|| panic!("no slow-mean-time testcase for pg_sleep in {ours}: {xml}"));
    assert!(
        case.contains("<failure message=\"mean execution time 2"),
        "{case}"
    );

    // --exit-zero reports the same finding without failing the build.
    let out = pgadvisor(&["check", "--dsn", &db.dsn, "--exit-zero", "--format", "json"]);
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["summary"]["passed"], false);
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "slow-mean-time"
                && f["database"] == db.name.as_str()
                && f["query"].as_str().is_some_and(|q| q.contains("pg_sleep"))),
        "{report}"
    );
}

#[test]
fn ci_formats_from_an_export() {
    let db = TestDb::new("formats");
    db.load_workload();
    db.repeat("SELECT pg_sleep(0.15)", 3);
    let stats = db.export_stats("stats.csv");
    let stats = stats.to_str().expect("path");

    let out = pgadvisor(&["check", "--stats", stats, "--format", "github"]);
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("::error title=pgadvisor slow-mean-time "))
        .unwrap_or_else(|| panic!("no error annotation in {stdout}"));
    assert!(line.contains("pg_sleep") && !line.contains('\n'), "{line}");

    let cq = db.path("gl-code-quality.json");
    let out = pgadvisor(&[
        "check",
        "--stats",
        stats,
        "--format",
        "gitlab",
        "--output",
        cq.to_str().expect("path"),
        "--path-for-findings",
        "db/rules.yaml",
    ]);
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    let issues: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cq).expect("written")).expect("JSON");
    let issue = issues
        .as_array()
        .expect("array")
        .iter()
        .find(|i| i["check_name"] == "slow-mean-time")
        .unwrap_or_else(|| panic!("no slow-mean-time issue in {issues}"));
    assert_eq!(issue["severity"], "critical");
    assert_eq!(issue["location"]["path"], "db/rules.yaml");

    let out = pgadvisor(&["check", "--stats", stats, "--format", "markdown"]);
    assert_eq!(code(&out), 1);
    let md = text(&out.stdout);
    assert!(md.starts_with("## pgadvisor check failed"), "{md}");
    assert!(md.contains("| 🔴 error | `slow-mean-time` |"), "{md}");

    // A rules file that relaxes the threshold turns the same workload green.
    let rules = db.path("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  slow-mean-time:\n    max_mean_ms: 1000\n",
    )
    .expect("write rules");
    let out = pgadvisor(&[
        "check",
        "--stats",
        stats,
        "--rules",
        rules.to_str().expect("path"),
    ]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn baseline_report_flags_regression_and_new_shape() {
    let db = TestDb::new("baseline");
    db.load_workload();
    db.repeat("SELECT pg_sleep(0.002)", 25);
    let before = db.export_stats("before.csv");
    let baseline = db.path("baseline.json");
    let out = pgadvisor(&[
        "check",
        "--stats",
        before.to_str().expect("path"),
        "--format",
        "json",
        "--output",
        baseline.to_str().expect("path"),
    ]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));

    // The change under test: the sleep gets slower, a new query appears.
    db.repeat("SELECT pg_sleep(0.03)", 25);
    db.repeat("SELECT count(*) FROM app.bookings WHERE guests > 11", 6);
    let after = db.export_stats("after.csv");
    let out = pgadvisor(&[
        "check",
        "--stats",
        after.to_str().expect("path"),
        "--baseline",
        baseline.to_str().expect("path"),
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let findings = report["findings"].as_array().expect("findings");
    let find = |rule: &str, needle: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule && f["query"].as_str().is_some_and(|q| q.contains(needle)))
    };
    let regression = find("mean-time-regression", "pg_sleep")
        .unwrap_or_else(|| panic!("no regression finding in {report}"));
    assert_eq!(regression["severity"], "error");
    assert!(regression["evidence"]["ratio"].as_f64().expect("ratio") > 2.0);
    let new = find("new-query-shape", "guests")
        .unwrap_or_else(|| panic!("no new-query-shape finding in {report}"));
    assert_eq!(new["severity"], "warning");
    // Shapes present in the baseline are not new.
    assert!(find("new-query-shape", "pg_sleep").is_none(), "{report}");
}

#[test]
fn usage_and_connection_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  slow-mean-time:\n    max_mean: 5\n",
    )
    .expect("write");
    let out = pgadvisor(&[
        "check",
        "--rules",
        rules.to_str().expect("path"),
        "--dsn",
        "host=127.0.0.1 port=1",
    ]);
    assert_eq!(code(&out), 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:4:", rules.display())) && stderr.contains("max_mean"),
        "{stderr}"
    );

    let out = pgadvisor(&["check", "--baseline", "/nonexistent/base.json"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("/nonexistent/base.json"));

    let out = pgadvisor(&["check", "--dsn", "host=127.0.0.1 port=1 connect_timeout=2"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("127.0.0.1"),
        "{}",
        text(&out.stderr)
    );

    let out = pgadvisor(&["check", "--format", "xml"]);
    assert_eq!(code(&out), 2);

    let out = pgadvisor(&["rule", "no-such-rule"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("slow-mean-time"));
}

#[test]
fn rule_prints_its_documentation() {
    let out = pgadvisor(&["rule", "slow-mean-time"]);
    assert_eq!(code(&out), 0);
    let doc = text(&out.stdout);
    for heading in [
        "## What it does",
        "## Why",
        "## Example",
        "## Fix",
        "## References",
    ] {
        assert!(doc.contains(heading), "missing {heading}: {doc}");
    }
    assert!(doc.contains("max_mean_ms: 100.0"), "{doc}");

    let out = pgadvisor(&["rule", "--all"]);
    assert_eq!(code(&out), 0);
    let docs_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    assert_eq!(
        text(&out.stdout),
        docs_md,
        "regenerate: pgadvisor rule --all > docs/rules.md"
    );

    let out = pgadvisor(&["rule", "--list", "--format", "json"]);
    assert_eq!(code(&out), 0);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|r| r["id"] == "mean-time-regression" && r["needs_baseline"] == true)
    );
}

#[test]
fn snapshot_window_and_snapshot_baseline() {
    let db = TestDb::new("snapshot");
    db.load_workload();
    // Tables unique to this run keep the shapes apart from other suites'
    // and from earlier runs' (pg_stat_statements outlives dropped databases,
    // and a fingerprint ignores column aliases but not table names).
    let tag = format!(
        "{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    db.psql(&[
        "-c",
        &format!(
            "CREATE TABLE probe_{tag} AS SELECT 1 AS x; CREATE TABLE fresh_{tag} AS SELECT 1 AS x"
        ),
    ]);
    db.repeat(&format!("SELECT pg_sleep(0.002) FROM probe_{tag}"), 25);
    let snap = db.path("before.json");
    let out = pgadvisor(&[
        "snapshot",
        "save",
        "--dsn",
        &db.dsn,
        snap.to_str().expect("path"),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    db.repeat(&format!("SELECT pg_sleep(0.03) FROM probe_{tag}"), 25);
    db.repeat(&format!("SELECT count(*) FROM fresh_{tag}"), 6);
    let snap = snap.to_str().expect("path");
    let out = pgadvisor(&[
        "check",
        "--dsn",
        &db.dsn,
        "--since",
        snap,
        "--baseline",
        snap,
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let location = report["source"]["location"].as_str().unwrap_or_default();
    assert!(location.contains(" since "), "{}", report["source"]);
    let findings = report["findings"].as_array().expect("findings");
    let ours = |rule: &str, needle: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule && f["query"].as_str().is_some_and(|q| q.contains(needle)))
    };
    // The window holds only the slow calls: 30 ms against the snapshot's 2 ms.
    let regression = ours("mean-time-regression", &format!("probe_{tag}"))
        .unwrap_or_else(|| panic!("no regression for probe_{tag} in {report}"));
    assert!(
        regression["evidence"]["ratio"].as_f64().expect("ratio") > 5.0,
        "{regression}"
    );
    assert!(
        ours("new-query-shape", &format!("fresh_{tag}")).is_some(),
        "{report}"
    );
    assert!(
        ours("new-query-shape", &format!("probe_{tag}")).is_none(),
        "{report}"
    );
}

/// `check --explain`: EXPLAIN findings of `error` severity fail the job,
/// with no database needed; the rules file's `explain:` section tunes them.
#[test]
fn explain_files_gate_ci_without_a_database() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let before = root.join("fixtures/plans/seed/email_lookup.before.json");
    let after = root.join("fixtures/plans/seed/email_lookup.after.json");
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let bin = env!("CARGO_BIN_EXE_pgadvisor");
    let clean = |c: &mut Command| {
        for v in [
            "DATABASE_URL",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
        ] {
            c.env_remove(v);
        }
        // A closed port: reading a workload would fail, so none may be read.
        c.env("PGHOST", "127.0.0.1").env("PGPORT", "1");
    };

    let mut cmd = Command::new(bin);
    clean(&mut cmd);
    let out = cmd
        .args(["check", "--explain"])
        .arg(&before)
        .args(["--format", "junit", "--output"])
        .arg(&junit)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("explain/seq-scan-filter"),
        "{xml}"
    );
    assert!(
        xml.contains("customers_email_idx"),
        "the fix is in the report: {xml}"
    );

    let mut cmd = Command::new(bin);
    clean(&mut cmd);
    let out = cmd
        .args(["check", "--explain"])
        .arg(&after)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "explain:\n  seq-scan-filter:\n    severity: warning\n",
    )
    .expect("write rules");
    let mut cmd = Command::new(bin);
    clean(&mut cmd);
    let out = cmd
        .args(["check", "--explain"])
        .arg(&before)
        .arg("--rules")
        .arg(&rules)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 warning"), "{stdout}");
}
