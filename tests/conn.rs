//! Connection settings against the real test server, through the binary
//! (`pgadvisor ping`) and the library's pool: every way of naming the
//! server, every sslmode that matters, and the failures users meet, which
//! must exit 2 with advice and never show the password.

mod common;

use common::*;

const WRONG_PASSWORD: &str = "wr0ng-Pa55word-xyzzy";

fn ping(args: &[&str]) -> Run {
    let mut all = vec!["ping", "--format", "json"];
    all.extend_from_slice(args);
    run_pgadvisor(&all)
}

fn assert_no_secret(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "the password leaked:\n{}",
        run.snapshot()
    );
}

fn password_of(dsn: &str) -> String {
    dsn.split_whitespace()
        .find_map(|kv| kv.strip_prefix("password="))
        .expect("password in PGADVISOR_TEST_PASSWORD_DSN")
        .to_string()
}

#[test]
fn connects_with_a_url() {
    let db = TestDb::create("conn_url");
    let url = format!("postgres://postgres@127.0.0.1:{}/{}", pg_port(), db.name());
    let out = ping(&["--dsn", &url]);
    out.expect_code(0);
    let j = out.json();
    assert_eq!(j["database"], db.name());
    assert_eq!(j["user"], "postgres");
    assert_eq!(j["application_name"], "pgadvisor");
    assert_eq!(
        j["target"],
        format!("postgres@127.0.0.1:{}/{}", pg_port(), db.name())
    );
}

#[test]
fn connects_with_key_value_and_prints_a_readable_report() {
    let db = TestDb::create("conn_kv");
    let out = run_pgadvisor(&["ping", "--dsn", db.dsn()]);
    out.expect_code(0);
    assert!(
        out.stdout.starts_with("connected to postgres@127.0.0.1:"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stdout.contains(&format!("database  {}", db.name())),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stdout.contains("server    PostgreSQL 1"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn connects_with_pg_variables_only() {
    let db = TestDb::create("conn_env");
    let out = run(pgadvisor()
        .args(["ping", "--format", "json"])
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", pg_port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", db.name())
        .env("PGAPPNAME", "from-pgappname"));
    out.expect_code(0);
    let j = out.json();
    assert_eq!(j["database"], db.name());
    assert_eq!(j["application_name"], "from-pgappname");
}

#[test]
fn pg_variables_fill_in_what_the_dsn_leaves_out() {
    let db = TestDb::create("conn_fill");
    let out = run(pgadvisor()
        .args(["ping", "--format", "json", "--dsn"])
        .arg(format!("host=127.0.0.1 dbname={}", db.name()))
        .env("PGPORT", pg_port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres"));
    out.expect_code(0);
    assert_eq!(out.json()["database"], db.name());
}

#[test]
fn database_url_is_used_and_dsn_beats_it() {
    let db = TestDb::create("conn_dburl");
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/{}",
        pg_port(),
        db.name()
    );
    let out = run(pgadvisor()
        .args(["ping", "--format", "json"])
        .env("DATABASE_URL", &url));
    out.expect_code(0);
    assert_eq!(out.json()["database"], db.name());

    let dead = format!("postgresql://postgres@127.0.0.1:{}/postgres", closed_port());
    let out = run(pgadvisor()
        .args(["ping", "--format", "json", "--dsn", db.dsn()])
        .env("DATABASE_URL", &dead));
    out.expect_code(0);
    assert_eq!(out.json()["database"], db.name());
}

#[test]
fn connects_over_the_unix_socket() {
    let dir = pg_socket_dir();
    let out = run(pgadvisor()
        .args(["ping", "--format", "json"])
        .env("PGHOST", &dir)
        .env("PGPORT", pg_port().to_string())
        .env("PGUSER", "postgres")
        .env("PGSSLMODE", "require"));
    out.expect_code(0);
    let j = out.json();
    assert_eq!(
        j["tls"]["enabled"], false,
        "sslmode does not apply to sockets"
    );
    assert!(
        j["target"]
            .as_str()
            .is_some_and(|t| t.contains(&dir.display().to_string())),
        "{}",
        out.snapshot()
    );
}

#[test]
fn sslmode_require_encrypts_without_checking() {
    let out = ping(&["--dsn", &pg_tls_dsn()]);
    out.expect_code(0);
    let j = out.json();
    assert_eq!(j["tls"]["enabled"], true, "{}", out.snapshot());
    assert_eq!(j["tls"]["sslmode"], "require");
    assert_eq!(j["tls"]["verification"], "none");
    assert!(
        j["tls"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("TLS"))
    );
}

#[test]
fn sslmode_disable_stays_plain() {
    let out = ping(&["--dsn", &dsn_with(&pg_dsn(), &[("sslmode", "disable")])]);
    out.expect_code(0);
    assert_eq!(out.json()["tls"]["enabled"], false);
}

#[test]
fn verify_full_checks_chain_and_name() {
    let ca = pg_ca();
    let ca = ca.to_str().expect("utf-8 path");
    let out = ping(&[
        "--dsn",
        &dsn_with(
            &pg_dsn(),
            &[("sslmode", "verify-full"), ("sslrootcert", ca)],
        ),
    ]);
    out.expect_code(0);
    assert_eq!(out.json()["tls"]["verification"], "full");

    // Without the CA the self-made certificate is unknown.
    let out = ping(&["--dsn", &dsn_with(&pg_dsn(), &[("sslmode", "verify-full")])]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("TLS certificate was rejected"),
        "{}",
        out.snapshot()
    );
    assert!(out.stderr.contains("sslrootcert"), "{}", out.snapshot());

    // The right CA but a name the certificate does not carry: verify-full
    // refuses, verify-ca accepts.
    let wrong_name = format!(
        "host=not-the-cert-name hostaddr=127.0.0.1 port={} user=postgres dbname=postgres sslrootcert={ca}",
        pg_port()
    );
    let out = ping(&["--dsn", &format!("{wrong_name} sslmode=verify-full")]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("not-the-cert-name"),
        "{}",
        out.snapshot()
    );
    let out = ping(&["--dsn", &format!("{wrong_name} sslmode=verify-ca")]);
    out.expect_code(0);
    assert_eq!(out.json()["tls"]["verification"], "ca");
}

#[test]
fn tls_refused_by_the_server_is_explained() {
    // pgbouncer here speaks no TLS, like a server with ssl=off.
    let out = run_pgadvisor(&[
        "ping",
        "--dsn",
        &dsn_with(&pgbouncer_dsn(), &[("sslmode", "require")]),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("does not accept TLS connections")
            && out.stderr.contains("sslmode=require"),
        "{}",
        out.snapshot()
    );
    // prefer falls back to plain text.
    let out = ping(&[
        "--dsn",
        &dsn_with(&pgbouncer_dsn(), &[("sslmode", "prefer")]),
    ]);
    out.expect_code(0);
}

#[test]
fn tls_only_role_disable_refused_allow_falls_back_to_tls() {
    let out = run_pgadvisor(&[
        "ping",
        "--dsn",
        &dsn_with(&pg_tls_only_dsn(), &[("sslmode", "disable")]),
    ]);
    out.expect_code(2);
    assert!(out.stderr.contains("pg_hba.conf"), "{}", out.snapshot());
    let out = ping(&[
        "--dsn",
        &dsn_with(&pg_tls_only_dsn(), &[("sslmode", "allow")]),
    ]);
    out.expect_code(0);
    assert_eq!(out.json()["tls"]["enabled"], true);
}

#[test]
fn password_from_dsn_env_and_pgpass() {
    let dsn = pg_password_dsn();
    let secret = password_of(&dsn);
    let out = ping(&["--dsn", &dsn]);
    out.expect_code(0);
    assert_eq!(out.json()["user"], "pgadvisor_pw");
    assert_no_secret(&out, &secret);

    let without: String = dsn
        .split_whitespace()
        .filter(|kv| !kv.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ");
    let out = run(pgadvisor()
        .args(["ping", "--format", "json", "--dsn", &without])
        .env("PGPASSWORD", &secret));
    out.expect_code(0);
    assert_no_secret(&out, &secret);

    let dir = tempfile::tempdir().expect("tempdir");
    let pgpass = dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{}:*:pgadvisor_pw:{secret}\n", pg_port()),
    )
    .expect("write pgpass");
    set_mode(&pgpass, 0o600);
    let out = run(pgadvisor()
        .args(["ping", "--format", "json", "--dsn", &without])
        .env("PGPASSFILE", &pgpass));
    out.expect_code(0);
    assert_no_secret(&out, &secret);
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn wrong_password_exits_2_with_advice_and_no_password() {
    let dsn = pg_password_dsn();
    let bad = dsn.replace(&password_of(&dsn), WRONG_PASSWORD);
    let out = run_pgadvisor(&["ping", "--dsn", &bad]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("password authentication failed for user \"pgadvisor_pw\""),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr
            .contains(&format!("pgadvisor_pw@127.0.0.1:{}/postgres", pg_port()))
    );
    assert_no_secret(&out, WRONG_PASSWORD);

    // Same through a URL and through PGPASSWORD (the hint names the source).
    let url = format!(
        "postgres://pgadvisor_pw:{WRONG_PASSWORD}@127.0.0.1:{}/postgres",
        pg_port()
    );
    let out = run_pgadvisor(&["ping", "--dsn", &url]);
    out.expect_code(2);
    assert_no_secret(&out, WRONG_PASSWORD);
    let out = run(pgadvisor()
        .args(["ping", "--dsn"])
        .arg(format!(
            "host=127.0.0.1 port={} user=pgadvisor_pw dbname=postgres",
            pg_port()
        ))
        .env("PGPASSWORD", WRONG_PASSWORD));
    out.expect_code(2);
    assert!(
        out.stderr.contains("check PGPASSWORD"),
        "{}",
        out.snapshot()
    );
    assert_no_secret(&out, WRONG_PASSWORD);
}

#[test]
fn missing_password_is_explained() {
    let out = run_pgadvisor(&[
        "ping",
        "--dsn",
        &format!(
            "host=127.0.0.1 port={} user=pgadvisor_pw dbname=postgres",
            pg_port()
        ),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("asks for a password"),
        "{}",
        out.snapshot()
    );
    assert!(out.stderr.contains("~/.pgpass"), "{}", out.snapshot());
}

#[test]
fn closed_port_exits_2_with_pg_isready_hint() {
    let port = closed_port();
    let out = run_pgadvisor(&[
        "ping",
        "--dsn",
        &format!("postgres://postgres:{WRONG_PASSWORD}@127.0.0.1:{port}/postgres"),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains(&format!("postgres@127.0.0.1:{port}/postgres")),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr
            .contains(&format!("pg_isready -h 127.0.0.1 -p {port}")),
        "{}",
        out.snapshot()
    );
    assert_no_secret(&out, WRONG_PASSWORD);
    assert_eq!(out.stdout, "");
}

#[test]
fn unknown_host_is_named() {
    let out = run_pgadvisor(&[
        "ping",
        "--connect-timeout",
        "5s",
        "--dsn",
        "host=no-such-host.invalid user=postgres dbname=postgres",
    ]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("unknown host no-such-host.invalid"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn missing_database_is_named() {
    let out = run_pgadvisor(&[
        "ping",
        "--dsn",
        &dsn_with(&pg_dsn(), &[("dbname", "pgadvisor_no_such_db")]),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("database \"pgadvisor_no_such_db\" does not exist"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn bad_connection_string_exits_2_without_echoing_it() {
    let out = run_pgadvisor(&[
        "ping",
        "--dsn",
        &format!("host=x password='{WRONG_PASSWORD}"),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("connection string"),
        "{}",
        out.snapshot()
    );
    assert_no_secret(&out, WRONG_PASSWORD);
}

/// The process environment without the outer shell's connection variables.
fn clean_env() -> pgadvisor::conn::Environment {
    let mut env = pgadvisor::conn::Environment::from_process();
    for v in CONNECTION_VARS {
        env.vars.remove(*v);
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_shares_settings_and_tls() {
    let db = TestDb::create("conn_pool");
    let args = pgadvisor::conn::ConnArgs {
        dsn: Some(dsn_with(db.dsn(), &[("sslmode", "require")])),
        connect_timeout: std::time::Duration::from_secs(10),
    };
    let target = args.resolve_in(&clean_env()).expect("resolve");
    let pool = target.connect_pool(4).await.expect("pool");
    // Four connections at once, each encrypted and named pgadvisor.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get().await.expect("pooled connection"));
    }
    let mut pids = std::collections::HashSet::new();
    for client in &held {
        let row = client
            .query_one(
                "SELECT pg_backend_pid(), s.ssl, current_setting('application_name'), current_database()::text \
                 FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("query");
        pids.insert(row.get::<_, i32>(0));
        assert!(row.get::<_, bool>(1), "pooled connection without TLS");
        assert_eq!(row.get::<_, String>(2), "pgadvisor");
        assert_eq!(row.get::<_, String>(3), db.name());
    }
    assert_eq!(pids.len(), 4, "the pool opened four distinct sessions");
    drop(held);
    drop(pool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_error_is_explained() {
    let args = pgadvisor::conn::ConnArgs {
        dsn: Some(format!(
            "host=127.0.0.1 port={} user=postgres",
            closed_port()
        )),
        connect_timeout: std::time::Duration::from_secs(5),
    };
    let target = args.resolve_in(&clean_env()).expect("resolve");
    let err = target
        .connect_pool(2)
        .await
        .expect_err("nothing listens there");
    assert!(
        format!("{err:#}").contains("pg_isready -h 127.0.0.1"),
        "{err:#}"
    );
}

#[test]
fn server_that_never_answers_times_out() {
    // A socket that accepts and then says nothing, like a hung server or a
    // proxy with no backend: the connect timeout must cover the whole login.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4).flatten() {
            held.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let out = run_pgadvisor(&[
        "ping",
        "--connect-timeout",
        "1s",
        "--dsn",
        &format!("host=127.0.0.1 port={port} user=postgres sslmode=disable"),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("no answer in time"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("--connect-timeout"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn unsafe_password_file_is_ignored_with_a_warning() {
    let secret = password_of(&pg_password_dsn());
    let dir = tempfile::tempdir().expect("tempdir");
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("*:*:*:pgadvisor_pw:{secret}\n")).expect("write pgpass");
    set_mode(&pgpass, 0o644);
    let out = run(pgadvisor()
        .args(["ping", "--dsn"])
        .arg(format!(
            "host=127.0.0.1 port={} user=pgadvisor_pw dbname=postgres",
            pg_port()
        ))
        .env("PGPASSFILE", &pgpass));
    out.expect_code(2);
    assert!(
        out.stderr.contains("group or world access"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("asks for a password"),
        "{}",
        out.snapshot()
    );
    assert_no_secret(&out, &secret);
}
