//! `pgadvisor apply` end to end: the real binary against the dev
//! PostgreSQL server, each test in its own throwaway database, plus a
//! primary/standby pair started by the standby test itself.
#![allow(clippy::unwrap_used)] // in tests a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

mod common;

use common::{TestDb, pg_bindir, psql, wait_until};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A throwaway database on the dev server, dropped at the end of the test.
fn new_db(test: &str) -> TestDb {
    TestDb::create(&format!("apply_{test}"))
}

/// The seed-platform schema and data at a small scale.
fn seed_platform(test: &str) -> TestDb {
    let db = new_db(test);
    db.load_seed_platform(0.02);
    db
}

/// Every index in the database's user schemas: name, definition, valid, ready.
fn indexes(db: &TestDb) -> String {
    db.psql(
        "SELECT n.nspname || '.' || c.relname || ' ' || i.indisvalid || ' ' || i.indisready || ' ' || pg_get_indexdef(i.indexrelid) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1",
    )
}

fn invalid_indexes(db: &TestDb) -> String {
    db.psql(
        "SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg_%' AND NOT (indisvalid AND indisready)",
    )
}

/// `pgadvisor apply PLAN --dsn DSN EXTRA`, run from the crate root so that
/// output naming the plan file is the same on every machine.
fn apply_cmd(dsn: &str, plan: &Path, extra: &[&str]) -> Command {
    let mut c = common::pgadvisor();
    c.arg("apply")
        .arg(plan)
        .args(["--dsn", dsn])
        .args(extra)
        .current_dir(root());
    c
}

fn apply(dsn: &str, plan: &Path, extra: &[&str]) -> Output {
    apply_cmd(dsn, plan, extra).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn seed_plan() -> PathBuf {
    // Relative to the crate root (the binary's working directory), so
    // output that names the plan file is the same on every machine.
    PathBuf::from("fixtures/plans/seed-platform.plan.yaml")
}

/// pgbench's count for one script and its failed transactions.
fn pgbench_script_count(out: &str, script: &str) -> i64 {
    let pos = out
        .find(&format!("pgbench/{script}"))
        .unwrap_or_else(|| panic!("no {script} section in pgbench output:\n{out}"));
    let rest = &out[pos..];
    let line = rest
        .lines()
        .find(|l| l.contains(" transactions ("))
        .unwrap();
    line.trim_start_matches([' ', '-'])
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn applies_seed_platform_plan_while_pgbench_writes() {
    let db = seed_platform("pgbench");
    db.psql("CREATE EXTENSION amcheck");
    let before_msgs: i64 = db
        .psql("SELECT count(*) FROM app.ai_messages")
        .parse()
        .unwrap();
    let before_conv: i64 = db
        .psql("SELECT count(*) FROM app.conversation_messages")
        .parse()
        .unwrap();
    let bench = common::pgbench_command(&db, 8, 2, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let o = apply(
        db.dsn(),
        &seed_plan(),
        &["--yes", "--allow-drop", "--verify", "--jobs", "2"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("12 applied, 0 already done"), "{out}");
    let bench = bench.wait_with_output().unwrap();
    let (bout, berr) = text(&bench);
    assert!(bench.status.success(), "pgbench failed:\n{bout}\n{berr}");
    assert!(
        bout.contains("number of failed transactions: 0 "),
        "pgbench reported failures:\n{bout}"
    );
    // Every index valid and structurally sound.
    assert_eq!(invalid_indexes(&db), "");
    let checked = db.psql(
        "SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam \
         WHERE n.nspname = 'app' AND am.amname = 'btree'",
    );
    // 7 primary keys + unique(name) + 2 kept hand-made + 9 new.
    assert_eq!(checked, "19", "{}", indexes(&db));
    // Rows: what pgbench's write script inserted, no more, no less.
    let writes = pgbench_script_count(&bout, "store_message.sql");
    assert!(writes > 0, "pgbench wrote nothing:\n{bout}");
    let after_msgs: i64 = db
        .psql("SELECT count(*) FROM app.ai_messages")
        .parse()
        .unwrap();
    let after_conv: i64 = db
        .psql("SELECT count(*) FROM app.conversation_messages")
        .parse()
        .unwrap();
    assert_eq!(after_msgs - before_msgs, writes);
    assert_eq!(after_conv - before_conv, writes);
    // The evidence queries now use the new indexes.
    assert!(out.contains("| 1/1 "), "{out}");
}

#[test]
fn rerun_of_an_applied_plan_changes_nothing() {
    let db = seed_platform("rerun");
    let o = apply(db.dsn(), &seed_plan(), &["--yes", "--allow-drop"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let state = db.psql(
        "SELECT string_agg(indexrelid::text || ' ' || indexrelid::regclass::text, ',' ORDER BY 1) FROM pg_index \
         WHERE indrelid::regclass::text LIKE 'app.%'",
    );
    let o = apply(db.dsn(), &seed_plan(), &["--allow-drop"]);
    let (out, err) = text(&o);
    // Nothing to run, so no confirmation is needed even without a terminal.
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("nothing to do: 12 of 12 actions already applied"),
        "{out}"
    );
    let again = db.psql(
        "SELECT string_agg(indexrelid::text || ' ' || indexrelid::regclass::text, ',' ORDER BY 1) FROM pg_index \
         WHERE indrelid::regclass::text LIKE 'app.%'",
    );
    assert_eq!(state, again, "a rerun changed the indexes");
}

#[test]
fn refuses_without_consent_and_skips_drops_without_allow_drop() {
    let db = seed_platform("consent");
    let before = indexes(&db);
    let o = apply(db.dsn(), &seed_plan(), &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(indexes(&db), before, "nothing may change without consent");
    let o = apply(
        db.dsn(),
        &seed_plan(),
        &["--yes", "--skip", "create:app.customers_email_idx"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("8 applied, 0 already done, 3 skipped"),
        "{out}"
    );
    assert!(indexes(&db).contains("bookings_status_dup_idx"));
    assert!(!indexes(&db).contains("customers_email_idx"));
    let o = apply(db.dsn(), &seed_plan(), &["--yes", "--only", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no action `nope`"), "{:?}", text(&o));
}

#[test]
fn missing_table_is_refused_and_the_rest_applies() {
    let db = seed_platform("missing");
    db.psql("DROP TABLE app.ai_messages");
    let o = apply(db.dsn(), &seed_plan(), &["--yes"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("| create:app.ai_messages_conversation_id_idx "),
        "{out}"
    );
    assert!(out.contains("refused"), "{out}");
    assert!(
        out.contains("table app.ai_messages does not exist"),
        "{out}"
    );
    assert!(out.contains("8 applied"), "{out}");
}

#[test]
fn dry_run_prints_the_sql_and_changes_nothing() {
    let db = seed_platform("dryrun");
    // One leftover of an interrupted build, to show the cleanup it plans.
    db.psql("CREATE INDEX customers_email_idx ON app.customers (email)");
    db.psql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'app.customers_email_idx'::regclass");
    // The same definition as a planned index under another name: done.
    db.psql("CREATE INDEX my_dept_idx ON app.customers (department, status, created_at)");
    let before = indexes(&db);
    let o = apply(
        db.dsn(),
        &seed_plan(),
        &[
            "--dry-run",
            "--allow-drop",
            "--verify",
            "--maintenance-work-mem",
            "256MB",
            "--skip",
            "drop:app.customers_tenant_idx",
        ],
    );
    let (out, err) = text(&o);
    // --verify without amcheck is refused before anything else.
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(err.contains("CREATE EXTENSION amcheck"), "{err}");
    db.psql("CREATE EXTENSION amcheck");
    let o = apply(
        db.dsn(),
        &seed_plan(),
        &[
            "--dry-run",
            "--verify",
            "--maintenance-work-mem",
            "256MB",
            "--skip",
            "drop:app.customers_tenant_idx",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(indexes(&db), before, "--dry-run changed the database");
    let out: Vec<String> = out
        .lines()
        .map(|l| {
            if l.starts_with("-- target: ") {
                "-- target: [test database]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    insta::assert_snapshot!("dry_run", out.join("\n"));
}

/// A table with awkward names and an expression index that builds slowly
/// (a sleeping IMMUTABLE function), so a test can act mid-build.
fn slow_build_db(test: &str, rows: usize) -> (TestDb, PathBuf, tempfile::TempDir) {
    let db = new_db(test);
    db.psql("CREATE SCHEMA \"My Schema\"");
    db.psql("CREATE TABLE \"My Schema\".\"Order \"\"Items\"\"\" (\"Id\" int PRIMARY KEY, \"select\" text, \"Mixed Case\" int)");
    db.psql(&format!(
        "INSERT INTO \"My Schema\".\"Order \"\"Items\"\"\" SELECT g, 'x' || g, g % 7 FROM generate_series(1, {rows}) g"
    ));
    db.psql(
        "CREATE FUNCTION public.slow_id(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS \
         $$ BEGIN PERFORM pg_sleep(0.004); RETURN $1; END $$",
    );
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        r#"version: 1
generated_by: test
generated_at: '2026-11-22T00:00:00Z'
source: test
validated: false
actions:
- id: create:slow
  kind: create_index
  table: '"My Schema"."Order ""Items"""'
  index: '"My Schema"."Slow ""Idx"""'
  ddl: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Slow ""Idx""" ON "My Schema"."Order ""Items""" (slow_id("Id"), "select", "Mixed Case" DESC) WHERE "Mixed Case" >= 0'
  definition:
    method: btree
    columns: ['slow_id("Id")', 'select', 'Mixed Case DESC']
    where: '"Mixed Case" >= 0'
  reason: new index
- id: create:plain
  kind: create_index
  table: '"My Schema"."Order ""Items"""'
  index: '"My Schema".order_items_select_idx'
  ddl: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS order_items_select_idx ON "My Schema"."Order ""Items""" ("select")'
  definition:
    method: btree
    columns: ['select']
  reason: new index
"#,
    )
    .unwrap();
    (db, plan, dir)
}

fn build_running(db: &TestDb) -> bool {
    db.psql(&format!(
        "SELECT count(*) FROM pg_stat_progress_create_index p JOIN pg_database d ON d.oid = p.datid \
         WHERE d.datname = '{}' AND p.phase LIKE 'building index%'",
        db.name()
    )) == "1"
}

fn apply_sessions(db: &TestDb) -> String {
    db.psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'pgadvisor apply'",
        db.name()
    ))
}

#[test]
fn killed_mid_build_then_rerun_reaches_the_same_end_state() {
    // Reference: an uninterrupted run.
    let (reference, plan, _dir) = slow_build_db("kill_ref", 400);
    let o = apply(reference.dsn(), &plan, &["--yes"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let want = indexes(&reference).replace(reference.name(), "DB");

    let (db, plan, _dir) = slow_build_db("kill", 400);
    let mut child: Child = apply_cmd(db.dsn(), &plan, &["--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the build to start", Duration::from_secs(30), || {
        build_running(&db)
    });
    child.kill().unwrap(); // SIGKILL: no cleanup possible
    child.wait().unwrap();
    // The server notices the dead client (client_connection_check_interval)
    // and aborts the build, leaving the invalid index behind.
    wait_until(
        "the orphaned build to stop",
        Duration::from_secs(30),
        || apply_sessions(&db) == "0",
    );
    assert_eq!(invalid_indexes(&db), "\"My Schema\".\"Slow \"\"Idx\"\"\"");

    let o = apply(db.dsn(), &plan, &["--yes"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        err.contains("dropping invalid index \"My Schema\".\"Slow \"\"Idx\"\"\""),
        "{err}"
    );
    assert_eq!(invalid_indexes(&db), "");
    assert_eq!(indexes(&db).replace(db.name(), "DB"), want);
    // And once more: nothing to do.
    let o = apply(db.dsn(), &plan, &["--yes"]);
    assert!(
        text(&o).0.contains("nothing to do: 2 of 2"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn ctrl_c_cancels_the_build_on_the_server_and_cleans_up() {
    let (db, plan, _dir) = slow_build_db("ctrlc", 2000);
    let child = apply_cmd(db.dsn(), &plan, &["--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the build to start", Duration::from_secs(30), || {
        build_running(&db)
    });
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(err.contains("interrupted"), "{err}");
    // Cancelled on the server: a build left to finish would read "applied".
    assert!(out.contains("| create:slow  | cancelled "), "{out}");
    assert!(!indexes(&db).contains("Slow"), "{}", indexes(&db));
    assert!(out.contains("not started"), "{out}");
    assert_eq!(invalid_indexes(&db), "");
    assert_eq!(apply_sessions(&db), "0");
}

/// A session that holds SHARE on a table (blocks CREATE INDEX CONCURRENTLY)
/// for `secs` seconds.
fn hold_lock(db: &TestDb, table: &str, secs: u32) -> Child {
    let c = common::pg_tool("psql")
        .args(["-X", "-q", "-d", db.dsn()])
        .args([
            "-c",
            "BEGIN",
            "-c",
            &format!("LOCK TABLE {table} IN SHARE MODE"),
            "-c",
        ])
        .arg(format!("SELECT pg_sleep({secs})"))
        .args(["-c", "COMMIT"])
        .env("PGAPPNAME", "lock-holder")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the lock to be held", Duration::from_secs(10), || {
        db.psql(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE a.application_name = 'lock-holder' AND a.datname = '{}' AND l.mode = 'ShareLock' AND l.granted",
            db.name()
        )) == "1"
    });
    c
}

#[test]
fn waits_out_a_blocker_then_succeeds() {
    let db = seed_platform("blocker");
    let mut holder = hold_lock(&db, "app.customers", 4);
    let pid = db.psql(&format!(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'lock-holder' AND datname = '{}'",
        db.name()
    ));
    let o = apply(
        db.dsn(),
        &seed_plan(),
        &[
            "--yes",
            "--only",
            "create:app.customers_email_idx",
            "--lock-timeout",
            "1s",
            "--retry-backoff",
            "500ms",
            "--lock-retries",
            "8",
        ],
    );
    let (out, err) = text(&o);
    holder.wait().unwrap();
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        err.contains(&format!("blocked by pid {pid} (lock-holder, ")),
        "{err}"
    );
    assert!(
        err.contains("LOCK TABLE app.customers IN SHARE MODE") || err.contains("pg_sleep"),
        "{err}"
    );
    assert!(err.contains("retrying in"), "{err}");
    assert!(out.contains("| applied "), "{out}");
    assert_eq!(invalid_indexes(&db), "");
}

#[test]
fn gives_up_on_a_blocker_that_never_leaves_and_leaves_nothing_behind() {
    let db = seed_platform("giveup");
    let mut holder = hold_lock(&db, "app.customers", 60);
    let before = indexes(&db);
    let o = apply(
        db.dsn(),
        &seed_plan(),
        &[
            "--yes",
            "--only",
            "create:app.customers_email_idx",
            "--lock-timeout",
            "300ms",
            "--retry-backoff",
            "100ms",
            "--lock-retries",
            "2",
        ],
    );
    let (out, err) = text(&o);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("| failed "), "{out}");
    assert!(
        out.contains("gave up building the index after 3 attempts"),
        "{out}"
    );
    assert_eq!(invalid_indexes(&db), "");
    assert_eq!(indexes(&db), before);
}

/// A primary started for this test (initdb as the postgres OS user) and a
/// streaming standby made from it with `pg_basebackup -R`.
struct Cluster {
    dir: tempfile::TempDir,
    ports: (u16, u16),
}

impl Cluster {
    fn run_as_postgres(args: &[&str]) -> Output {
        let as_root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
            || Command::new("id")
                .arg("-u")
                .output()
                .map(|o| o.stdout.starts_with(b"0"))
                .unwrap_or(false);
        let mut c = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(args);
            c
        } else {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        };
        c.output().unwrap()
    }

    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("pgadvisor-standby")
            .tempdir()
            .unwrap();
        let _ = Command::new("chown")
            .args(["-R", "postgres", dir.path().to_str().unwrap()])
            .status();
        let primary = dir.path().join("primary");
        let standby = dir.path().join("standby");
        let ports = (common::closed_port(), common::closed_port());
        let s = |p: &Path| p.to_str().unwrap().to_string();
        let ok = |o: Output, what: &str| {
            assert!(
                o.status.success(),
                "{what}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        };
        ok(
            Self::run_as_postgres(&[
                pg_bindir().join("initdb").to_str().unwrap(),
                "-D",
                &s(&primary),
                "-A",
                "trust",
                "-U",
                "postgres",
            ]),
            "initdb",
        );
        let conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nwal_level = replica\nmax_wal_senders = 4\nfsync = off\n",
            ports.0,
            s(dir.path())
        );
        std::fs::write(primary.join("postgresql.auto.conf"), conf).unwrap();
        let log = s(&dir.path().join("primary.log"));
        ok(
            Self::run_as_postgres(&[
                pg_bindir().join("pg_ctl").to_str().unwrap(),
                "-D",
                &s(&primary),
                "-l",
                &log,
                "-w",
                "start",
            ]),
            "start primary",
        );
        let cluster = Cluster { dir, ports };
        ok(
            Self::run_as_postgres(&[
                pg_bindir().join("pg_basebackup").to_str().unwrap(),
                "-h",
                "127.0.0.1",
                "-p",
                &ports.0.to_string(),
                "-U",
                "postgres",
                "-D",
                &s(&standby),
                "-R",
                "-X",
                "stream",
            ]),
            "pg_basebackup",
        );
        let auto = std::fs::read_to_string(standby.join("postgresql.auto.conf")).unwrap();
        std::fs::write(
            standby.join("postgresql.auto.conf"),
            auto.replace(
                &format!("port = {}", ports.0),
                &format!("port = {}", ports.1),
            ) + &format!("port = {}\n", ports.1),
        )
        .unwrap();
        let log = s(&cluster.dir.path().join("standby.log"));
        ok(
            Self::run_as_postgres(&[
                pg_bindir().join("pg_ctl").to_str().unwrap(),
                "-D",
                &s(&standby),
                "-l",
                &log,
                "-w",
                "start",
            ]),
            "start standby",
        );
        cluster
    }

    fn dsn(&self, port: u16) -> String {
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for d in ["standby", "primary"] {
            let p = self.dir.path().join(d);
            let _ = Self::run_as_postgres(&[
                pg_bindir().join("pg_ctl").to_str().unwrap(),
                "-D",
                p.to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ]);
        }
    }
}

#[test]
fn refuses_a_standby() {
    let c = Cluster::start();
    let primary = c.dsn(c.ports.0);
    let standby = c.dsn(c.ports.1);
    psql(
        &primary,
        "CREATE SCHEMA app; CREATE TABLE app.customers (id int, email text)",
    );
    wait_until(
        "the standby to replay the table",
        Duration::from_secs(30),
        || {
            psql(
                &standby,
                "SELECT count(*) FROM pg_class WHERE relname = 'customers'",
            ) == "1"
        },
    );
    assert_eq!(psql(&standby, "SELECT pg_is_in_recovery()"), "t");
    let o = apply(
        &standby,
        &seed_plan(),
        &["--yes", "--only", "create:app.customers_email_idx"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("is a standby (pg_is_in_recovery() is true)"),
        "{err}"
    );
    assert!(err.contains("point --dsn at the primary"), "{err}");
    // The same action on the primary works and reaches the standby.
    let o = apply(
        &primary,
        &seed_plan(),
        &["--yes", "--only", "create:app.customers_email_idx"],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    wait_until("the index to replicate", Duration::from_secs(30), || {
        psql(
            &standby,
            "SELECT count(*) FROM pg_class WHERE relname = 'customers_email_idx'",
        ) == "1"
    });
}
