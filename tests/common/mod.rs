//! The harness every integration test uses: where the test services are
//! (from the environment `scripts/testenv up` writes), a throwaway database
//! per test, the seed-platform fixture and pgbench workload, and the built
//! `pgadvisor` binary run with a clean environment.
//!
//! Tests never skip: without the services they fail with the command to run.
//! Each test binary uses a subset of this file.
#![allow(dead_code)]

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const NO_SERVICES: &str = "no test PostgreSQL: run scripts/test (or `scripts/testenv up && source target/testenv/env.sh`)";

/// Connection variables of the outer shell that must not leak into the
/// binary or the PostgreSQL client tools a test runs.
pub const CONNECTION_VARS: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGTARGETSESSIONATTRS",
    "PGCHANNELBINDING",
];

/// A test-service variable, or a panic naming the command that provides it.
pub fn required(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{NO_SERVICES} ({var} is not set)"),
    }
}

/// libpq key=value string for the superuser on database `postgres` over TCP.
pub fn pg_dsn() -> String {
    required("PGADVISOR_TEST_DSN")
}

/// `redis://` URL of a standalone redis-server.
pub fn redis_url() -> String {
    required("PGADVISOR_TEST_REDIS_URL")
}

/// `redis://` URLs of the Redis Cluster's masters.
pub fn redis_cluster_urls() -> Vec<String> {
    required("PGADVISOR_TEST_REDIS_CLUSTER")
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// PostgreSQL's bin directory (psql, pgbench, pg_dump, ...).
pub fn pg_bindir() -> PathBuf {
    PathBuf::from(required("PGADVISOR_TEST_PG_BINDIR"))
}

/// Same server as [`pg_dsn`] with `sslmode=require`.
pub fn pg_tls_dsn() -> String {
    required("PGADVISOR_TEST_TLS_DSN")
}

/// The CA that signed the test server's certificate (for verify-ca/verify-full).
pub fn pg_ca() -> PathBuf {
    PathBuf::from(required("PGADVISOR_TEST_PG_CA"))
}

/// A role that logs in with a password only (scram-sha-256); the DSN holds it.
pub fn pg_password_dsn() -> String {
    required("PGADVISOR_TEST_PASSWORD_DSN")
}

/// A role the server accepts over TLS only.
pub fn pg_tls_only_dsn() -> String {
    required("PGADVISOR_TEST_TLS_ONLY_DSN")
}

pub fn pg_port() -> u16 {
    required("PGADVISOR_TEST_PG_PORT")
        .parse()
        .expect("PGADVISOR_TEST_PG_PORT is a port number")
}

/// Directory holding the test server's Unix socket.
pub fn pg_socket_dir() -> PathBuf {
    PathBuf::from(required("PGADVISOR_TEST_PG_SOCKET_DIR"))
}

/// Directory of the server's log files (postgresql.log, .csv, .json).
pub fn pg_logdir() -> PathBuf {
    PathBuf::from(required("PGADVISOR_TEST_PG_LOGDIR"))
}

/// pgbouncer (transaction pooling, no TLS) in front of the test server.
pub fn pgbouncer_dsn() -> String {
    required("PGADVISOR_TEST_PGBOUNCER_DSN")
}

/// `base` with `key=value` pairs appended (libpq: the last occurrence wins).
pub fn dsn_with(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = base.to_string();
    for (k, v) in pairs {
        let quoted = v.replace('\\', "\\\\").replace('\'', "\\'");
        out.push_str(&format!(" {k}='{quoted}'"));
    }
    out
}

/// A free TCP port on 127.0.0.1 with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    port
}

fn clean(cmd: &mut Command) -> &mut Command {
    for v in CONNECTION_VARS {
        cmd.env_remove(v);
    }
    cmd
}

/// A PostgreSQL client tool from [`pg_bindir`] with a clean environment.
pub fn pg_tool(name: &str) -> Command {
    let mut cmd = Command::new(pg_bindir().join(name));
    clean(&mut cmd);
    cmd
}

fn check(what: &str, out: Output) -> String {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run SQL with psql (`-X -A -t -q`, ON_ERROR_STOP); panics on failure; returns stdout trimmed.
pub fn psql(dsn: &str, sql: &str) -> String {
    let out = pg_tool("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            dsn,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run psql");
    check(&format!("psql -c {sql:?}"), out).trim().to_string()
}

/// Run a SQL file with psql and variables (`-v name=value`); panics on failure.
pub fn psql_file(dsn: &str, file: &Path, vars: &[(&str, &str)]) {
    let mut cmd = pg_tool("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]);
    for (k, v) in vars {
        cmd.arg("-v").arg(format!("{k}={v}"));
    }
    let out = cmd
        .arg("-f")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("run psql");
    check(&format!("psql -f {}", file.display()), out);
}

/// The project's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A database of its own for one test, created from template1 (which has
/// pg_stat_statements and hypopg) and dropped, with FORCE, when dropped.
pub struct TestDb {
    name: String,
    dsn: String,
    admin_dsn: String,
    scale: Cell<Option<f64>>,
}

impl TestDb {
    /// `pgadvisor_<prefix>_<pid>_<n>`: unique across parallel tests and test binaries.
    pub fn create(prefix: &str) -> TestDb {
        let admin_dsn = pg_dsn();
        let clean_prefix: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let n = NEXT_DB.fetch_add(1, Ordering::SeqCst);
        let name = format!("pgadvisor_{clean_prefix}_{}_{n}", std::process::id());
        // A database of this name can only be a leftover of a dead run with a reused pid.
        psql(
            &admin_dsn,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        );
        let create = format!("CREATE DATABASE \"{name}\" TEMPLATE template1");
        let mut attempt = 0;
        loop {
            let out = pg_tool("psql")
                .args([
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    &admin_dsn,
                    "-c",
                    &create,
                ])
                .stdin(Stdio::null())
                .output()
                .expect("run psql");
            if out.status.success() {
                break;
            }
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            // Another session briefly on template1 makes CREATE DATABASE fail; retry.
            if err.contains("being accessed by other users") && attempt < 20 {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(250));
                continue;
            }
            panic!("cannot create test database {name}: {err}");
        }
        let dsn = dsn_with(&admin_dsn, &[("dbname", &name)]);
        TestDb {
            name,
            dsn,
            admin_dsn,
            scale: Cell::new(None),
        }
    }

    /// key=value connection string for this database (superuser, TCP).
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run SQL in this database; returns psql's unaligned tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        psql(&self.dsn, sql)
    }

    /// Load `fixtures/seed-platform` at `scale` (0.01–0.05 in tests:
    /// `200000 * scale` customers).
    pub fn load_seed_platform(&self, scale: f64) {
        let dir = fixtures_dir().join("seed-platform");
        psql_file(&self.dsn, &dir.join("schema.sql"), &[]);
        psql_file(
            &self.dsn,
            &dir.join("data.sql"),
            &[("scale", &scale.to_string())],
        );
        self.scale.set(Some(scale));
    }

    /// This database's pg_stat_statements rows written to `path` as CSV
    /// with a header, the export docs/top.md tells users to take
    /// (`pgadvisor top/check --stats`). The view is server-wide: the rows
    /// are filtered by this database, so other tests' statements stay out.
    pub fn export_stats(&self, path: &Path) {
        let path = path.to_str().expect("export path is UTF-8");
        assert!(
            !path.contains('\''),
            "export path {path:?} holds a quote; psql's \\copy would misread it"
        );
        self.psql(&format!(
            "\\copy (SELECT s.* FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
             WHERE d.datname = current_database()) TO '{path}' CSV HEADER"
        ));
    }

    /// The scale loaded by [`TestDb::load_seed_platform`].
    pub fn seed_scale(&self) -> Option<f64> {
        self.scale.get()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let out = pg_tool("psql")
            .args([
                "-X",
                "-q",
                "-d",
                &self.admin_dsn,
                "-c",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "warning: could not drop test database {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("warning: could not drop test database {}: {e}", self.name),
        }
    }
}

/// The seed-platform pgbench variables for a scale: `(ncust, nconv)`,
/// computed as data.sql computes its row counts.
pub fn seed_counts(scale: f64) -> (i64, i64) {
    let ncust = (200_000.0 * scale).round() as i64;
    (ncust, ncust / 2)
}

/// Result of a pgbench run.
#[derive(Debug)]
pub struct Pgbench {
    pub transactions: u64,
    pub tps: f64,
    pub stdout: String,
    pub stderr: String,
}

/// pgbench running the seed-platform query mix (weights.txt) against `db`
/// for `seconds` with `clients` clients; `extra_args` go to pgbench before
/// the database. Not started: [`run_pgbench`] waits for it, a test that
/// works while the load runs spawns it. The database must hold the
/// seed-platform data.
pub fn pgbench_command(db: &TestDb, seconds: u32, clients: u32, extra_args: &[&str]) -> Command {
    let scale = db.seed_scale().unwrap_or_else(|| {
        panic!(
            "pgbench_command: load_seed_platform() was not called on {}",
            db.name()
        )
    });
    let (ncust, nconv) = seed_counts(scale);
    let dir = fixtures_dir().join("seed-platform");
    let weights = std::fs::read_to_string(dir.join("weights.txt")).expect("read weights.txt");
    let mut cmd = pg_tool("pgbench");
    cmd.args(["-n", "-T", &seconds.to_string()])
        .args(["-c", &clients.to_string(), "-j", &clients.to_string()])
        .args([
            "-D",
            &format!("ncust={ncust}"),
            "-D",
            &format!("nconv={nconv}"),
        ]);
    for line in weights.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (file, weight) = line.split_once('@').unwrap_or((line, "1"));
        cmd.arg("-f").arg(format!(
            "{}@{weight}",
            dir.join("pgbench").join(file).display()
        ));
    }
    cmd.args(extra_args).arg(db.dsn()).stdin(Stdio::null());
    cmd
}

/// Run [`pgbench_command`] to the end; panics if pgbench fails.
pub fn run_pgbench(db: &TestDb, seconds: u32, clients: u32, extra_args: &[&str]) -> Pgbench {
    let mut cmd = pgbench_command(db, seconds, clients, extra_args);
    let out = cmd.output().expect("run pgbench");
    let stdout = check("pgbench", out.clone());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let transactions = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("pgbench printed no transaction count:\n{stdout}"));
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("pgbench printed no tps:\n{stdout}"));
    Pgbench {
        transactions,
        tps,
        stdout,
        stderr,
    }
}

/// Poll `check` every 100 ms until it holds; panics naming `what` after
/// `limit` (generous: the machine may be busy; this is no speed assertion).
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The built `pgadvisor` binary with no connection settings inherited from
/// the outer shell and no colour.
pub fn pgadvisor() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgadvisor"));
    clean(&mut cmd);
    cmd.env("NO_COLOR", "1").stdin(Stdio::null());
    cmd
}

/// Exit code, stdout and stderr of one run, kept together.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// All three in one text, the shape for insta snapshots.
    pub fn snapshot(&self) -> String {
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Panics (showing everything) unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            code,
            "unexpected exit code:\n{}",
            self.snapshot()
        );
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.snapshot()))
    }
}

/// Run a command and capture exit code, stdout and stderr together.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run command");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `pgadvisor <args>` captured.
pub fn run_pgadvisor(args: &[&str]) -> Run {
    run(pgadvisor().args(args))
}

/// `pgadvisor <args>` with `input` on its standard input (closed after it), captured.
pub fn run_pgadvisor_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut child = pgadvisor()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pgadvisor");
    // Dropping the pipe after the write closes it: the binary sees EOF.
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("write pgadvisor's stdin");
    let out = child.wait_with_output().expect("wait for pgadvisor");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
