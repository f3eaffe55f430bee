//! `pgadvisor pool` end to end: the real binary against the dev
//! PostgreSQL server with pgbench running at known client counts, a
//! session left idle in a transaction, and a real PgBouncer (Debian's
//! package) started by the test on a free port. Each test works in its
//! own database and limits the measurement to it (`--only-db`), so other
//! activity on the shared server does not move its numbers.
#![allow(clippy::unwrap_used)] // in tests a panic is the failure report

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::{TestDb, pg_tool, run_pgadvisor};

// ------------------------------------------------------------------ harness

/// The test server's connection parameters, from PGADVISOR_TEST_DSN, for
/// the PgBouncer this file starts in front of it.
struct Server {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
}

fn server() -> Server {
    let config: tokio_postgres::Config = common::pg_dsn().parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "127.0.0.1".into(),
    };
    Server {
        host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        user: config.get_user().unwrap_or("postgres").to_string(),
        password: config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// A throwaway database (with pg_stat_statements, from template1), dropped at the end.
fn new_db(test: &str) -> TestDb {
    TestDb::create(&format!("pool_{test}"))
}

/// A child process that is killed when the test ends, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ok(args: &[&str]) -> String {
    let o = run_pgadvisor(args);
    assert_eq!(o.code, 0, "{args:?}\nstderr: {}", o.stderr);
    o.stdout
}

fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Wait (up to a minute) until `check` holds; the machine may be busy.
fn wait_until(what: &str, check: impl FnMut() -> bool) {
    common::wait_until(what, Duration::from_secs(60), check);
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.psql(sql).trim().parse().unwrap()
}

/// pgbench in the background: `clients` clients for `seconds`, running `script`.
fn pgbench(target: &str, script: &Path, clients: u32, seconds: u32) -> Killed {
    let child = pg_tool("pgbench")
        .args(["-n", "-j", "2", "-f"])
        .arg(script)
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string()])
        .arg(target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Killed(child)
}

fn wait_for_pgbench(db: &TestDb, clients: u32) {
    let name = db.name();
    wait_until(&format!("{clients} pgbench connections in {name}"), || {
        count(
            db,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND \
                 application_name = 'pgbench'"
            ),
        ) >= i64::from(clients)
    });
}

fn write_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The first whole number after `key` in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in:\n{text}"));
    let digits: String = text[at + key.len()..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The snippets carry the proposal's numbers for every application.
fn assert_snippets_match(report: &Value) {
    let apps = report["proposal"]["applications"].as_array().unwrap();
    let snippets = report["snippets"]["applications"].as_array().unwrap();
    assert_eq!(apps.len(), snippets.len());
    for (a, s) in apps.iter().zip(snippets) {
        assert_eq!(a["application_name"], s["application_name"]);
        let (pool, overflow, max) = (u(&a["pool_size"]), u(&a["overflow"]), u(&a["max_size"]));
        assert_eq!(pool + overflow, max);
        assert_eq!(u(&a["total"]), max * u(&a["instances"]));
        let sqlalchemy = s["sqlalchemy"].as_str().unwrap();
        assert_eq!(number_after(sqlalchemy, "pool_size="), pool);
        assert_eq!(number_after(sqlalchemy, "max_overflow="), overflow);
        let hikari = s["hikaricp"].as_str().unwrap();
        assert_eq!(number_after(hikari, "minimumIdle="), pool);
        assert_eq!(number_after(hikari, "maximumPoolSize="), max);
        let deadpool = s["deadpool_postgres"].as_str().unwrap();
        assert_eq!(number_after(deadpool, "PoolConfig::new("), max);
    }
    let b = &report["proposal"]["pgbouncer"];
    let ini = report["snippets"]["pgbouncer"].as_str().unwrap();
    assert_eq!(
        number_after(ini, "\ndefault_pool_size ="),
        u(&b["default_pool_size"]["value"])
    );
    assert_eq!(
        number_after(ini, "\nreserve_pool_size ="),
        u(&b["reserve_pool_size"]["value"])
    );
    assert_eq!(
        number_after(ini, "\nmax_client_conn ="),
        u(&b["max_client_conn"]["value"])
    );
    assert!(ini.contains(&format!("pool_mode = {}", b["pool_mode"].as_str().unwrap())));
}

/// The demand and target recomputed from the report's own inputs.
fn assert_formulas_hold(report: &Value) {
    let p = &report["proposal"];
    let busy_p95 = u(&report["busy"]["p95"]);
    let mut demand = busy_p95;
    for t in [&report["throughput"], &report["pgbouncer"]["throughput"]] {
        if let Some(l) = t.get("concurrency").and_then(Value::as_f64) {
            demand = demand.max(l.round() as u64);
        }
    }
    assert_eq!(u(&p["demand"]["value"]), demand, "{}", p["demand"]);
    let cores = u(&report["cpus"]["count"]);
    let limit = cores * 2 + 1;
    assert_eq!(u(&p["server_limit"]["value"]), limit);
    assert_eq!(
        u(&p["target_active"]["value"]),
        limit.min(demand).max(1),
        "{}",
        p["target_active"]
    );
    let total: u64 = p["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| u(&a["total"]))
        .sum();
    assert_eq!(u(&p["total_connections"]), total);
}

// -------------------------------------------------------------------- tests

const SLEEPY: &str = "\\set aid random(1, 100000)\n\
                      SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n\
                      SELECT pg_sleep(0.05);\n";

/// Measure `clients` pgbench clients: JSON and table from the same load.
fn measure(db: &TestDb, script: &Path, clients: u32) -> (Value, String) {
    let _load = pgbench(db.dsn(), script, clients, 14);
    wait_for_pgbench(db, clients);
    let common = [
        "pool",
        "--dsn",
        db.dsn(),
        "--only-db",
        db.name(),
        "--cpus",
        "2",
        "--spindles",
        "1",
    ];
    let mut args = common.to_vec();
    args.extend(["--duration", "4s", "--format", "json"]);
    let report = json(&args);
    let mut args = common.to_vec();
    args.extend(["--duration", "2s"]);
    let table = ok(&args);
    (report, table)
}

#[test]
fn active_concurrency_and_proposal_follow_the_client_count() {
    let db = new_db("clients");
    let init = pg_tool("pgbench")
        .args(["-i", "-q", "-s", "1", "-I", "dtgp"])
        .arg(db.dsn())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "sleepy.sql", SLEEPY);

    let (two, two_table) = measure(&db, &script, 2);
    let (eight, eight_table) = measure(&db, &script, 8);

    // The sampled distribution moves with the client count and never
    // exceeds it (pgadvisor's own backend is not counted).
    for (r, clients) in [(&two, 2), (&eight, 8)] {
        let a = &r["active"];
        assert!(u(&a["max"]) <= clients, "{clients} clients: {a}");
        assert!(u(&a["p50"]) <= u(&a["p95"]) && u(&a["p95"]) <= u(&a["p99"]));
        assert!(u(&a["p99"]) <= u(&a["max"]));
        assert!(u(&r["window"]["samples"]) >= 10, "{}", r["window"]);
        let hist: u64 = a["histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| u(&b["samples"]))
            .sum();
        assert_eq!(hist, u(&r["window"]["samples"]));
        // pgadvisor's own connections (its pg_stat_statements reads) are not the workload.
        let apps = r["applications"].as_array().unwrap();
        assert_eq!(apps.len(), 1, "{apps:?}");
        assert_eq!(apps[0]["application_name"], "pgbench");
        assert_eq!(u(&r["applications"][0]["connections"]["max"]), clients);
        // pg_stat_statements saw the same window: λ × W is the concurrency.
        let t = &r["throughput"];
        assert!(u(&t["calls"]) > 0, "{t}");
        let l = t["concurrency"].as_f64().unwrap();
        let expected =
            t["calls_per_s"].as_f64().unwrap() * t["mean_exec_time_ms"].as_f64().unwrap() / 1000.0;
        assert!((l - expected).abs() < 0.05 * expected.max(1.0), "{t}");
        assert!(l > 0.5 && l <= clients as f64 + 0.5, "{t}");
        assert_formulas_hold(r);
        assert_snippets_match(r);
    }
    assert!(u(&two["active"]["p95"]) >= 1);
    assert!(
        u(&eight["active"]["p95"]) > u(&two["active"]["p95"]),
        "p95 {} (8 clients) vs {} (2 clients)",
        eight["active"]["p95"],
        two["active"]["p95"]
    );
    assert!(u(&eight["active"]["max"]) > u(&two["active"]["max"]));
    // On 2 cores (limit 2 × 2 + 1 = 5): two clients fit, eight are capped.
    let target = |r: &Value| u(&r["proposal"]["target_active"]["value"]);
    let pool = |r: &Value| u(&r["proposal"]["applications"][0]["pool_size"]);
    assert!(target(&two) <= 3, "{}", two["proposal"]["target_active"]);
    assert_eq!(target(&eight), 5, "{}", eight["proposal"]["target_active"]);
    assert!(pool(&eight) > pool(&two));
    let ids = |r: &Value| -> Vec<String> {
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(ids(&eight).contains(&"demand-exceeds-cores".to_string()));
    assert!(!ids(&two).contains(&"demand-exceeds-cores".to_string()));

    // The table's proposal row and the snippets under it agree.
    for table in [&two_table, &eight_table] {
        let row: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| pgbench"))
            .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
            .find(|cells| cells.len() == 11)
            .unwrap_or_else(|| panic!("no proposal row in:\n{table}"))
            .into_iter()
            .skip(1)
            .collect();
        let (pool, overflow, max) = (row[5], row[6], row[7]);
        assert!(table.contains(&format!("pool_size={pool},")), "{table}");
        assert!(
            table.contains(&format!("max_overflow={overflow},")),
            "{table}"
        );
        assert!(
            table.contains(&format!("maximumPoolSize={max}\n")),
            "{table}"
        );
        assert!(
            table.contains(&format!("PoolConfig::new({max})")),
            "{table}"
        );
        assert!(table.contains("| server limit "), "{table}");
        assert!(table.contains("2 × 2 + 1 = 5"), "{table}");
    }
}

#[test]
fn idle_in_transaction_session_is_reported_with_its_age() {
    let db = new_db("idletx");
    let mut child = pg_tool("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(db.dsn())
        .env("PGAPPNAME", "pool_idle_tx_test")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _session = Killed(child);
    stdin
        .write_all(b"BEGIN;\nSELECT 1 AS left_open;\n")
        .unwrap();
    stdin.flush().unwrap();
    wait_until("the session to sit idle in its transaction", || {
        count(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = \
             'pool_idle_tx_test' AND state = 'idle in transaction' \
             AND state_change < now() - interval '1.5 seconds'",
        ) == 1
    });
    let dsn = db.dsn();
    let r = json(&[
        "pool",
        "--dsn",
        dsn,
        "--only-db",
        db.name(),
        "--duration",
        "2s",
        "--idle-tx-threshold",
        "1s",
        "--format",
        "json",
    ]);
    // No --cpus: a server on this host has its cores read here; a remote one has none.
    let local = ["127.0.0.1", "localhost", "::1"].contains(&server().host.as_str())
        || server().host.starts_with('/');
    if local {
        assert_eq!(r["cpus"]["source"], "local", "{}", r["cpus"]);
        assert!(u(&r["cpus"]["count"]) >= 1);
        assert!(r["proposal"]["server_limit"].is_object());
    } else {
        assert!(r["cpus"].is_null());
        assert!(r["proposal"]["server_limit"].is_null());
    }
    let sessions = r["idle_in_transaction"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{}", r["idle_in_transaction"]);
    let s = &sessions[0];
    assert_eq!(s["application_name"], "pool_idle_tx_test");
    assert!(s["idle_s"].as_f64().unwrap() >= 1.5, "{s}");
    assert!(s["transaction_age_s"].as_f64().unwrap() >= s["idle_s"].as_f64().unwrap());
    assert_eq!(s["open_at_end"], true);
    assert!(s["query"].as_str().unwrap().contains("left_open"), "{s}");
    let w: Vec<&Value> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["id"] == "idle-in-transaction")
        .collect();
    assert_eq!(w.len(), 1, "{}", r["warnings"]);
    assert_eq!(w[0]["evidence"]["pid"], s["pid"]);
    assert!(
        w[0]["message"]
            .as_str()
            .unwrap()
            .contains("pool_idle_tx_test"),
        "{}",
        w[0]["message"]
    );
    // It holds a connection (busy) without running anything (active).
    assert_eq!(u(&r["active"]["max"]), 0);
    assert_eq!(u(&r["busy"]["p50"]), 1);
    assert_eq!(u(&r["states"]["idle_in_transaction"]["max"]), 1);
    assert!(r["idle_in_transaction"]["longest_s"].as_f64().unwrap() >= 1.5);

    // Below the threshold: measured, not reported.
    let quiet = json(&[
        "pool",
        "--dsn",
        dsn,
        "--only-db",
        db.name(),
        "--duration",
        "300ms",
        "--idle-tx-threshold",
        "1h",
        "--format",
        "json",
    ]);
    assert!(
        quiet["idle_in_transaction"]["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(quiet["idle_in_transaction"]["longest_s"].as_f64().unwrap() >= 1.5);
    assert!(
        !quiet["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == "idle-in-transaction")
    );

    // The table names the session and its age.
    let table = ok(&[
        "pool",
        "--dsn",
        dsn,
        "--only-db",
        db.name(),
        "--duration",
        "300ms",
        "--idle-tx-threshold",
        "1s",
    ]);
    assert!(
        table.contains("Idle in transaction for 1 s or more"),
        "{table}"
    );
    assert!(table.contains("[idle-in-transaction] pid"), "{table}");
    assert!(table.contains("pool_idle_tx_test"), "{table}");
    drop(stdin);
}

/// PgBouncer (pool_mode = transaction, default_pool_size = 3) in front of
/// the test server, on a free port. PgBouncer refuses to run as root: then
/// it runs as the `postgres` user, which must be able to read its files.
fn start_pgbouncer(dir: &Path, db: &str) -> (Killed, u16) {
    let s = server();
    let port = common::closed_port();
    let auth = dir.join("userlist.txt");
    std::fs::write(&auth, format!("\"{}\" \"\"\n", s.user)).unwrap();
    let password = s
        .password
        .as_deref()
        .map(|p| format!(" password={p}"))
        .unwrap_or_default();
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(
        &ini,
        format!(
            "[databases]\n\
             {db} = host={host} port={pgport} dbname={db}{password}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {auth}\n\
             admin_users = {user}\n\
             pool_mode = transaction\n\
             default_pool_size = 3\n\
             max_client_conn = 100\n",
            host = s.host,
            pgport = s.port,
            auth = auth.display(),
            user = s.user,
        ),
    )
    .unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let exe = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("pgbouncer");
    let mut cmd = if root {
        use std::os::unix::fs::PermissionsExt;
        for p in [dir, &ini, &auth] {
            let mode = if p.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", exe]);
        c
    } else {
        Command::new(exe)
    };
    let log_path = dir.join("pgbouncer.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = cmd
        .arg(&ini)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start pgbouncer ({exe}): {e}"));
    let mut bouncer = Killed(child);
    let console = format!(
        "host=127.0.0.1 port={port} user={} dbname=pgbouncer",
        s.user
    );
    wait_until("pgbouncer to accept connections", || {
        if let Ok(Some(status)) = bouncer.0.try_wait() {
            panic!(
                "pgbouncer exited ({status}): {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        pg_tool("psql")
            .args(["-X", "-q", "-c", "SHOW VERSION"])
            .arg(&console)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    (bouncer, port)
}

#[test]
fn pgbouncer_pools_and_stats_are_read_through_the_admin_console() {
    let db = new_db("bouncer");
    let dir = tempfile::tempdir().unwrap();
    let (_bouncer, port) = start_pgbouncer(dir.path(), db.name());
    let script = write_script(dir.path(), "sleep.sql", "SELECT pg_sleep(0.05);\n");
    let s = server();
    let through = format!(
        "host=127.0.0.1 port={port} user={} dbname={}",
        s.user,
        db.name()
    );
    // Six clients through a pool of three server connections.
    let _load = pgbench(&through, &script, 6, 14);
    let console_url = format!("postgres://{}@127.0.0.1:{port}/pgbouncer", s.user);
    wait_until("six pgbench clients at PgBouncer", || {
        let out = pg_tool("psql")
            .args(["-X", "-A", "-t", "-c", "SHOW CLIENTS"])
            .arg(format!(
                "host=127.0.0.1 port={port} user={} dbname=pgbouncer",
                s.user
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(db.name()) && l.contains("pgbench"))
            .count()
            >= 6
    });
    let dsn = db.dsn();
    let args = [
        "pool",
        "--dsn",
        dsn,
        "--only-db",
        db.name(),
        "--pgbouncer",
        &console_url,
        "--cpus",
        "2",
        "--duration",
        "4s",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let r = json(&json_args);
    let b = &r["pgbouncer"];
    let pools = b["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 1, "{b}");
    let p = &pools[0];
    assert_eq!(p["database"], db.name());
    assert_eq!(p["pool_mode"], "transaction");
    assert_eq!(u(&p["pool_size"]), 3);
    assert_eq!(b["settings"]["default_pool_size"], 3);
    assert!(u(&p["sv_active"]["max"]) <= 3, "{p}");
    assert!(u(&p["cl_waiting"]["max"]) >= 1, "{p}");
    assert!(p["max_wait_ms"].as_f64().unwrap() > 0.0, "{p}");
    let t = &b["throughput"];
    assert!(u(&t["transactions"]) > 0, "{t}");
    let l = t["concurrency"].as_f64().unwrap();
    // λ × W at the pooler counts the six clients' demand (the wait is part
    // of PgBouncer's transaction time), more than the pool's three servers run.
    assert!(l > 3.0 && l <= 6.5, "{t}");
    assert!(t["waiting"].as_f64().unwrap() > 0.0, "{t}");
    assert!(
        t["mean_wait_per_transaction_ms"].as_f64().unwrap() > 0.0,
        "{t}"
    );
    // The server behind it never ran more than the pool's three connections.
    assert!(u(&r["active"]["max"]) <= 3, "{}", r["active"]);
    assert!(
        r["proposal"]["demand"]["inputs"]
            .get("littles_law_pgbouncer")
            .is_some(),
        "{}",
        r["proposal"]["demand"]
    );
    // Three servers busy while three more clients wait: saturated.
    assert_eq!(u(&p["sv_active"]["p95"]), 3, "{p}");
    let saturation: Vec<&Value> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["id"] == "pool-saturation")
        .collect();
    assert_eq!(saturation.len(), 1, "{}", r["warnings"]);
    assert!(
        saturation[0]["message"]
            .as_str()
            .unwrap()
            .contains("PgBouncer pool"),
        "{}",
        saturation[0]
    );
    assert_eq!(saturation[0]["evidence"]["pool_size"], 3);
    // The clients are counted at the pooler, where they are.
    assert!(u(&b["clients"]["max"]) >= 6, "{}", b["clients"]);
    assert!(
        u(&r["proposal"]["pgbouncer"]["client_connections"]["value"]) >= 6,
        "{}",
        r["proposal"]["pgbouncer"]
    );
    assert_formulas_hold(&r);
    assert_snippets_match(&r);

    // The table shows the pooler and a PgBouncer section to paste.
    let mut table_args = args.to_vec();
    table_args[args.len() - 1] = "2s";
    let table = ok(&table_args);
    assert!(table.contains("PgBouncer at "), "{table}");
    assert!(table.contains("pool_mode = transaction"), "{table}");
    assert!(table.contains("| default_pool_size "), "{table}");
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let dsn = common::pg_dsn();
    let o = run_pgadvisor(&[
        "pool",
        "--dsn",
        &dsn,
        "--duration",
        "10ms",
        "--interval",
        "100ms",
    ]);
    assert_eq!(o.code, 2);
    let err = &o.stderr;
    assert!(err.contains("shorter than --interval"), "{err}");
    let o = run_pgadvisor(&["pool", "--dsn", &dsn, "--instances", "api=0"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--instances api=0"));
    let o = run_pgadvisor(&[
        "pool",
        "--dsn",
        &dsn,
        "--duration",
        "1s",
        "--pgbouncer",
        "postgres://postgres@127.0.0.1:6432/app",
    ]);
    assert_eq!(o.code, 2);
    let err = &o.stderr;
    assert!(err.contains("admin console"), "{err}");
    let o = run_pgadvisor(&["pool", "--duration", "soon"]);
    assert_eq!(o.code, 2);
}
