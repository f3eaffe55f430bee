//! The test services and the harness are what every other test stands on:
//! check that they are what docs/testing.md promises (extensions in fresh
//! databases, pg_stat_statements collecting, server logs on demand, the
//! seed-platform fixture and pgbench mix, Redis and Redis Cluster), and that
//! test databases really go away.

mod common;

use common::*;

#[test]
fn fresh_database_has_the_extensions_and_pg_stat_statements_collects() {
    let db = TestDb::create("testenv_ext");
    let exts = db.psql("SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension");
    assert!(
        exts.contains("hypopg") && exts.contains("pg_stat_statements"),
        "{exts}"
    );
    assert_eq!(db.psql("SHOW pg_stat_statements.track"), "all");
    assert_eq!(db.psql("SHOW track_io_timing"), "on");

    db.psql("CREATE TABLE t (id int); SELECT count(*) FROM t WHERE id = 42");
    let seen = db.psql(
        "SELECT count(*) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
         WHERE d.datname = current_database() AND s.query LIKE 'SELECT count(*) FROM t WHERE id = $1'",
    );
    assert_eq!(seen, "1");

    let hypo = db.psql("SELECT count(*) FROM hypopg_create_index('CREATE INDEX ON t (id)')");
    assert_eq!(hypo, "1");
}

#[test]
fn export_stats_holds_only_its_own_database() {
    let ours = TestDb::create("testenv_export");
    let theirs = TestDb::create("testenv_export_other");
    // Table names unique to this run: pg_stat_statements outlives databases.
    let mine = format!("mine_{}", ours.name());
    let other = format!("other_{}", theirs.name());
    ours.psql(&format!(
        "CREATE TABLE {mine} (id int); SELECT count(*) FROM {mine}"
    ));
    theirs.psql(&format!(
        "CREATE TABLE {other} (id int); SELECT count(*) FROM {other}"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stats.csv");
    ours.export_stats(&path);
    let csv = std::fs::read_to_string(&path).expect("export written");
    let header = csv.lines().next().expect("a header line");
    assert!(
        header.contains("queryid") && header.contains("calls"),
        "{header}"
    );
    assert!(csv.contains(&format!("FROM {mine}")), "{csv}");
    assert!(!csv.contains(&other), "{csv}");
}

#[test]
fn test_database_is_dropped() {
    let name = {
        let db = TestDb::create("testenv_drop");
        db.psql("SELECT 1");
        db.name().to_string()
    };
    let left = psql(
        &pg_dsn(),
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    );
    assert_eq!(left, "0", "{name} still exists");
}

#[test]
fn seed_platform_loads_and_pgbench_runs_the_mix() {
    let db = TestDb::create("testenv_seed");
    db.load_seed_platform(0.01);
    let (ncust, nconv) = seed_counts(0.01);
    assert_eq!((ncust, nconv), (2000, 1000));
    assert_eq!(
        db.psql("SELECT count(*) FROM app.customers"),
        ncust.to_string()
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM app.ai_conversations"),
        nconv.to_string()
    );
    let bench = run_pgbench(&db, 2, 2, &[]);
    assert!(bench.transactions > 0, "{}", bench.stdout);
    assert!(bench.tps > 0.0, "{}", bench.stdout);
    // The mix reached pg_stat_statements under this database.
    let calls = db.psql(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
         WHERE d.datname = current_database() AND s.query LIKE '%app.customers%'",
    );
    assert!(calls.parse::<i64>().unwrap_or(0) > 0, "calls = {calls}");
}

#[test]
fn statement_logging_can_be_turned_on_per_database() {
    let db = TestDb::create("testenv_log");
    db.psql(&format!(
        "ALTER DATABASE \"{}\" SET log_min_duration_statement = 0",
        db.name()
    ));
    let marker = format!("pgadvisor_log_marker_{}", std::process::id());
    db.psql(&format!("SELECT '{marker}'"));
    // The collector writes asynchronously; give it a moment.
    let json = pg_logdir().join("postgresql.json");
    let mut found = false;
    for _ in 0..50 {
        let text = std::fs::read_to_string(&json).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.contains(&marker) && l.contains(&format!("\"dbname\":\"{}\"", db.name())))
        {
            found = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found, "no jsonlog line for {marker} in {}", json.display());
    let csv = std::fs::read_to_string(pg_logdir().join("postgresql.csv")).unwrap_or_default();
    assert!(csv.contains(&marker), "no csvlog line for {marker}");
}

fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn redis_and_redis_cluster_answer() {
    assert_eq!(redis_cli(&redis_url(), &["PING"]), "PONG");
    let urls = redis_cluster_urls();
    assert_eq!(urls.len(), 3, "{urls:?}");
    for url in &urls {
        let info = redis_cli(url, &["CLUSTER", "INFO"]);
        assert!(info.contains("cluster_state:ok"), "{url}: {info}");
        assert!(info.contains("cluster_size:3"), "{url}: {info}");
    }
}

#[test]
#[should_panic(expected = "no test PostgreSQL: run scripts/test")]
fn missing_services_fail_loudly() {
    required("PGADVISOR_TEST_VARIABLE_NOBODY_SETS");
}
