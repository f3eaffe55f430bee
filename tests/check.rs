//! `pgadvisor check` end to end: the real binary against the throwaway
//! PostgreSQL. Each test gets its own database with the seed-platform
//! workload, runs pgbench briefly so pg_stat_statements fills, then checks.
//!
//! pg_stat_statements is server-wide and other test suites share the
//! server, so tests that must see only their own statements read an export
//! of their database's rows (`--stats`), the way a CI job exports from a
//! shared server; the live test asserts only about its own query.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use common::{TestDb, run_pgadvisor};

/// seed-platform scale: 4,000 customers, loads in about a second.
const SCALE: f64 = 0.02;

/// A test database of our own and a directory for the files a check reads
/// and writes (exports, reports, rules), both removed at the end.
struct CheckDb {
    db: TestDb,
    dir: tempfile::TempDir,
}

static SCRIPTS: AtomicUsize = AtomicUsize::new(0);

impl CheckDb {
    fn new(tag: &str) -> CheckDb {
        CheckDb {
            db: TestDb::create(&format!("check_{tag}")),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn dsn(&self) -> &str {
        self.db.dsn()
    }

    fn name(&self) -> &str {
        self.db.name()
    }

    /// seed-platform schema and data, then a short pgbench run of its query mix.
    fn load_workload(&self) {
        self.db.load_seed_platform(SCALE);
        common::run_pgbench(&self.db, 3, 2, &[]);
    }

    /// Run one statement `times` times, each its own execution.
    fn repeat(&self, sql: &str, times: usize) {
        let script = format!("{sql};\n").repeat(times);
        let file = self.path(&format!(
            "repeat_{}.sql",
            SCRIPTS.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&file, script).expect("write script");
        common::psql_file(self.dsn(), &file, &[]);
    }

    /// This database's pg_stat_statements rows as a CSV export, the way
    /// docs/top.md tells users to take one.
    fn export_stats(&self, file: &str) -> PathBuf {
        let path = self.path(file);
        self.db.export_stats(&path);
        path
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

#[test]
fn clean_workload_passes() {
    let db = CheckDb::new("clean");
    db.load_workload();
    let stats = db.export_stats("stats.csv");
    let junit = db.path("junit.xml");
    let out = run_pgadvisor(&[
        "check",
        "--stats",
        stats.to_str().expect("path"),
        "--format",
        "junit",
        "--output",
        junit.to_str().expect("path"),
    ]);
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "stdout: {stdout}\nstderr: {}", out.stderr);
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
    let db = CheckDb::new("slow");
    db.load_workload();
    db.repeat("SELECT pg_sleep(0.2)", 4);
    let junit = db.path("junit.xml");
    let out = run_pgadvisor(&[
        "check",
        "--dsn",
        db.dsn(),
        "--format",
        "junit",
        "--output",
        junit.to_str().expect("path"),
    ]);
    let stdout = &out.stdout;
    assert_eq!(out.code, 1, "stdout: {stdout}\nstderr: {}", out.stderr);
    assert!(stdout.starts_with("check failed:"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    // Our database's pg_sleep shape has a slow-mean-time testcase with a
    // failure (the live server also holds other suites' statements).
    let ours = format!("[{} ", db.name());
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
    let out = run_pgadvisor(&[
        "check",
        "--dsn",
        db.dsn(),
        "--exit-zero",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let report = out.json();
    assert_eq!(report["summary"]["passed"], false);
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "slow-mean-time"
                && f["database"] == db.name()
                && f["query"].as_str().is_some_and(|q| q.contains("pg_sleep"))),
        "{report}"
    );
}

#[test]
fn ci_formats_from_an_export() {
    let db = CheckDb::new("formats");
    db.load_workload();
    db.repeat("SELECT pg_sleep(0.15)", 3);
    let stats = db.export_stats("stats.csv");
    let stats = stats.to_str().expect("path");

    let out = run_pgadvisor(&["check", "--stats", stats, "--format", "github"]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let stdout = &out.stdout;
    let line = stdout
        .lines()
        .find(|l| l.starts_with("::error title=pgadvisor slow-mean-time "))
        .unwrap_or_else(|| panic!("no error annotation in {stdout}"));
    assert!(line.contains("pg_sleep") && !line.contains('\n'), "{line}");

    let cq = db.path("gl-code-quality.json");
    let out = run_pgadvisor(&[
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
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
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

    let out = run_pgadvisor(&["check", "--stats", stats, "--format", "markdown"]);
    assert_eq!(out.code, 1);
    let md = &out.stdout;
    assert!(md.starts_with("## pgadvisor check failed"), "{md}");
    assert!(md.contains("| 🔴 error | `slow-mean-time` |"), "{md}");

    // A rules file that relaxes the threshold turns the same workload green.
    let rules = db.path("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  slow-mean-time:\n    max_mean_ms: 1000\n",
    )
    .expect("write rules");
    let out = run_pgadvisor(&[
        "check",
        "--stats",
        stats,
        "--rules",
        rules.to_str().expect("path"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn baseline_report_flags_regression_and_new_shape() {
    let db = CheckDb::new("baseline");
    db.load_workload();
    db.repeat("SELECT pg_sleep(0.002)", 25);
    let before = db.export_stats("before.csv");
    let baseline = db.path("baseline.json");
    let out = run_pgadvisor(&[
        "check",
        "--stats",
        before.to_str().expect("path"),
        "--format",
        "json",
        "--output",
        baseline.to_str().expect("path"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // The change under test: the sleep gets slower, a new query appears.
    db.repeat("SELECT pg_sleep(0.03)", 25);
    db.repeat("SELECT count(*) FROM app.bookings WHERE guests > 11", 6);
    let after = db.export_stats("after.csv");
    let out = run_pgadvisor(&[
        "check",
        "--stats",
        after.to_str().expect("path"),
        "--baseline",
        baseline.to_str().expect("path"),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let report = out.json();
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
    let out = run_pgadvisor(&[
        "check",
        "--rules",
        rules.to_str().expect("path"),
        "--dsn",
        "host=127.0.0.1 port=1",
    ]);
    assert_eq!(out.code, 2);
    let stderr = &out.stderr;
    assert!(
        stderr.contains(&format!("{}:4:", rules.display())) && stderr.contains("max_mean"),
        "{stderr}"
    );

    let out = run_pgadvisor(&["check", "--baseline", "/nonexistent/base.json"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/nonexistent/base.json"));

    let out = run_pgadvisor(&["check", "--dsn", "host=127.0.0.1 port=1 connect_timeout=2"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("127.0.0.1"), "{}", out.stderr);

    let out = run_pgadvisor(&["check", "--format", "xml"]);
    assert_eq!(out.code, 2);

    let out = run_pgadvisor(&["rule", "no-such-rule"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("slow-mean-time"));
}

#[test]
fn rule_prints_its_documentation() {
    let out = run_pgadvisor(&["rule", "slow-mean-time"]);
    assert_eq!(out.code, 0);
    let doc = &out.stdout;
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

    let out = run_pgadvisor(&["rule", "--all"]);
    assert_eq!(out.code, 0);
    let docs_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    assert_eq!(
        out.stdout, docs_md,
        "regenerate: pgadvisor rule --all > docs/rules.md"
    );

    let out = run_pgadvisor(&["rule", "--list", "--format", "json"]);
    assert_eq!(out.code, 0);
    let list = out.json();
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|r| r["id"] == "mean-time-regression" && r["needs_baseline"] == true)
    );
}

#[test]
fn snapshot_window_and_snapshot_baseline() {
    let db = CheckDb::new("snapshot");
    db.load_workload();
    // Tables unique to this run keep the shapes apart from other suites'
    // and from earlier runs' (pg_stat_statements outlives dropped databases,
    // and a fingerprint ignores column aliases but not table names).
    let tag = db.name().trim_start_matches("pgadvisor_").to_string();
    common::psql(
        db.dsn(),
        &format!(
            "CREATE TABLE probe_{tag} AS SELECT 1 AS x; CREATE TABLE fresh_{tag} AS SELECT 1 AS x"
        ),
    );
    db.repeat(&format!("SELECT pg_sleep(0.002) FROM probe_{tag}"), 25);
    let snap = db.path("before.json");
    let out = run_pgadvisor(&[
        "snapshot",
        "save",
        "--dsn",
        db.dsn(),
        snap.to_str().expect("path"),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    db.repeat(&format!("SELECT pg_sleep(0.03) FROM probe_{tag}"), 25);
    db.repeat(&format!("SELECT count(*) FROM fresh_{tag}"), 6);
    let snap = snap.to_str().expect("path");
    let out = run_pgadvisor(&[
        "check",
        "--dsn",
        db.dsn(),
        "--since",
        snap,
        "--baseline",
        snap,
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let report = out.json();
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
    // A closed port: reading a workload would fail, so none may be read.
    let offline = || {
        let mut cmd = common::pgadvisor();
        cmd.env("PGHOST", "127.0.0.1").env("PGPORT", "1");
        cmd
    };

    let out = common::run(
        offline()
            .args(["check", "--explain"])
            .arg(&before)
            .args(["--format", "junit", "--output"])
            .arg(&junit),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("explain/seq-scan-filter"),
        "{xml}"
    );
    assert!(
        xml.contains("customers_email_idx"),
        "the fix is in the report: {xml}"
    );

    let out = common::run(offline().args(["check", "--explain"]).arg(&after));
    assert_eq!(out.code, 0, "{}", out.stdout);

    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "explain:\n  seq-scan-filter:\n    severity: warning\n",
    )
    .expect("write rules");
    let out = common::run(
        offline()
            .args(["check", "--explain"])
            .arg(&before)
            .arg("--rules")
            .arg(&rules),
    );
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "{stdout}");
    assert!(stdout.contains("1 warning"), "{stdout}");
}
