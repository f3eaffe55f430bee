//! `pgadvisor advise` end to end: the seed-platform workload on a real
//! PostgreSQL with HypoPG, offline advice from the shipped fixtures, SQL
//! files with literal samples, and the ways input goes wrong.

mod common;

use common::{TestDb, fixtures_dir, run_pgadvisor, run_pgbench};
use pgadvisor::plan::{ActionKind, Plan};
use serde_json::Value;

fn indexes(report: &Value) -> Vec<&Value> {
    report["indexes"]
        .as_array()
        .expect("indexes array")
        .iter()
        .collect()
}

fn columns(ix: &Value) -> Vec<String> {
    ix["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c.as_str().expect("column text").to_string())
        .collect()
}

fn proposes(report: &Value, table: &str, leading: &[&str]) -> bool {
    indexes(report).iter().any(|ix| {
        ix["table"] == table
            && columns(ix)
                .iter()
                .map(String::as_str)
                .take(leading.len())
                .eq(leading.iter().copied())
    })
}

/// Every proposed DDL must really build: run it (without CONCURRENTLY) in a
/// transaction that is rolled back. An invalid partial predicate (a
/// non-immutable function) would fail here.
fn assert_ddl_builds(db: &TestDb, report: &Value) {
    for ix in indexes(report) {
        let ddl = ix["ddl"]
            .as_str()
            .expect("ddl")
            .replacen(" CONCURRENTLY", "", 1);
        db.psql(&format!("BEGIN; {ddl}; ROLLBACK;"));
        if let Some(w) = ix["where"].as_str() {
            let lower = w.to_lowercase();
            assert!(
                !lower.contains("now()") && !lower.contains("current_"),
                "non-immutable predicate: {w}"
            );
        }
    }
}

#[test]
fn seed_platform_live_advice_is_validated_and_complete() {
    let db = TestDb::create("advise_seed");
    db.load_seed_platform(0.05);
    let bench = run_pgbench(&db, 6, 2, &[]);
    assert!(bench.transactions > 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let plan_path = dir.path().join("plan.yaml");
    let run = run_pgadvisor(&[
        "advise",
        "--dsn",
        db.dsn(),
        "--database",
        db.name(),
        "--format",
        "json",
        "--plan-out",
        plan_path.to_str().expect("utf-8 path"),
    ]);
    run.expect_code(0);
    let r = run.json();
    assert_eq!(r["version"], 1);
    assert_eq!(r["mode"], "planner", "{}", run.stdout);
    assert_eq!(r["validated"], true);

    // The slow shapes get their indexes.
    for (table, lead) in [
        ("app.conversation_messages", &["customer_id"][..]),
        ("app.customer_scores", &["customer_id"][..]),
        ("app.ai_messages", &["conversation_id"][..]),
        ("app.customers", &["email"][..]),
        ("app.bookings", &["customer_id"][..]),
    ] {
        assert!(
            proposes(&r, table, lead),
            "no index on {table} ({lead:?}):\n{:#}",
            r["indexes"]
        );
    }
    // Nothing for the primary-key lookup or the 90%-'active' status scan.
    assert!(
        !proposes(&r, "app.customers", &["id"]),
        "{:#}",
        r["indexes"]
    );
    assert!(
        !proposes(&r, "app.customers", &["status"]),
        "{:#}",
        r["indexes"]
    );
    // Each proposal is the planner's: used, and cheaper.
    for ix in indexes(&r) {
        let before = ix["cost_before"].as_f64().expect("cost_before");
        let after = ix["cost_after"].as_f64().expect("cost_after");
        assert!(after < before, "{ix:#}");
        assert!(ix["size_bytes"].as_i64().expect("size") > 0);
        assert!(!ix["queries"].as_array().expect("queries").is_empty());
        assert!(
            ["single", "composite", "partial", "covering", "expression"]
                .contains(&ix["kind"].as_str().expect("kind"))
        );
    }
    assert_ddl_builds(&db, &r);

    // Hygiene: the duplicate, the redundant prefix, the unused index.
    let drops: Vec<(String, String)> = r["drops"]
        .as_array()
        .expect("drops")
        .iter()
        .map(|d| {
            (
                d["index"].as_str().expect("index").to_string(),
                d["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect();
    for expected in [
        ("app.bookings_status_dup_idx", "duplicate"),
        ("app.customers_tenant_idx", "redundant"),
        ("app.customer_scores_confidence_idx", "unused"),
    ] {
        assert!(
            drops
                .iter()
                .any(|(i, why)| i == expected.0 && why == expected.1),
            "{expected:?} not in {drops:?}"
        );
    }
    assert!(
        !drops
            .iter()
            .any(|(i, _)| i.ends_with("_pkey") || i.ends_with("_key")),
        "{drops:?}"
    );

    // Every foreign key without an index is listed, served or proposed.
    let fks = r["foreign_keys"].as_array().expect("foreign_keys");
    let tables: Vec<&str> = fks
        .iter()
        .map(|f| f["table"].as_str().expect("table"))
        .collect();
    for t in [
        "app.customer_scores",
        "app.conversation_messages",
        "app.ai_conversations",
        "app.ai_messages",
        "app.bookings",
    ] {
        assert!(tables.contains(&t), "{t} missing from {tables:?}");
    }
    assert!(
        fks.iter()
            .all(|f| f["ddl"].is_string() || f["served_by_proposal"].is_string())
    );

    // The plan file holds every proposal and reads back.
    let plan = Plan::read(&plan_path).expect("plan file reads");
    let creates = plan
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::CreateIndex)
        .count();
    let drops_n = plan
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::DropIndex)
        .count();
    // Foreign-key indexes enter the plan only when the referenced table sees deletes or updates.
    let fk_creates = fks
        .iter()
        .filter(|f| {
            f["ddl"].is_string() && f["referenced_write_rate"].as_f64().unwrap_or(0.0) > 0.0
        })
        .count();
    assert_eq!(creates, indexes(&r).len() + fk_creates);
    assert_eq!(drops_n, drops.len());
    assert!(plan.validated);

    // The DBA's next step: apply the plan. Every create is built valid,
    // and its evidence queries (pg_stat_statements' $n texts, planned as
    // generic plans) show the cost before -> after with the index in use.
    let applied = common::run(common::pgadvisor().args([
        "apply",
        plan_path.to_str().expect("utf-8 path"),
        "--dsn",
        db.dsn(),
        "--yes",
        "--allow-drop",
        "--format",
        "json",
    ]));
    applied.expect_code(0);
    let a = applied.json();
    for act in a["actions"].as_array().expect("actions") {
        assert_eq!(act["result"], "applied", "{act:#}");
        if act["kind"] == "create_index" {
            for rp in act["replans"].as_array().expect("replans") {
                let (b, f) = (rp["cost_before"].as_f64(), rp["cost_after"].as_f64());
                assert!(b.is_some() && f.is_some(), "re-planned: {rp:#}");
            }
            assert!(
                act["replans"]
                    .as_array()
                    .expect("replans")
                    .iter()
                    .any(|rp| rp["uses_index"] == true),
                "the planner uses the new index for some evidence query: {act:#}"
            );
        }
    }
    assert_eq!(db.psql("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' AND NOT i.indisvalid").trim(), "0");
}

#[test]
fn sql_file_with_literals_gives_partial_indexes_and_never_a_volatile_predicate() {
    let db = TestDb::create("advise_sqlfile");
    db.load_seed_platform(0.05);
    let dir = tempfile::tempdir().expect("tempdir");
    let queries = dir.path().join("queries.sql");
    std::fs::write(
        &queries,
        "-- weight: 50\n\
         SELECT id, customer_id FROM app.bookings\n WHERE status = 'confirmed' AND followup_scheduled_at IS NULL\n   AND event_date < date '2024-06-01'\n ORDER BY event_date LIMIT 100;\n\
         -- weight: 20\n\
         SELECT id FROM app.customers WHERE created_at > now() - interval '1 day' AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 10;\n\
         SELECT nosuchcolumn FROM app.customers WHERE tenant_id = 3;\n",
    )
    .expect("write queries");
    let run = advise_queries(&db, &queries, &[]);
    run.expect_code(0);
    let r = run.json();
    let partial = indexes(&r)
        .into_iter()
        .find(|ix| ix["table"] == "app.bookings" && ix["kind"] == "partial")
        .unwrap_or_else(|| panic!("no partial index on bookings:\n{:#}", r["indexes"]));
    let pred = partial["where"].as_str().expect("predicate");
    assert!(
        pred.contains("status = 'confirmed'") && pred.contains("followup_scheduled_at IS NULL"),
        "{pred}"
    );
    assert_eq!(columns(partial), ["event_date"]);
    assert_ddl_builds(&db, &r);
    // The query that cannot plan is reported with its reason; the rest went on.
    let not = r["not_analyzed"].as_array().expect("not_analyzed");
    assert!(
        not.iter().any(|n| n["query"]
            .as_str()
            .is_some_and(|q| q.contains("nosuchcolumn"))
            && n["reason"]
                .as_str()
                .is_some_and(|s| s.contains("nosuchcolumn"))),
        "{not:#?}"
    );
    // now() kept out of any predicate, and the output says why.
    let notes = r["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .is_some_and(|s| s.contains("created_at") && s.contains("partial"))),
        "{notes:#?}"
    );
}

#[test]
fn without_hypopg_advice_is_estimated_and_says_so() {
    let db = TestDb::create("advise_nohypo");
    db.load_seed_platform(0.02);
    db.psql("DROP EXTENSION hypopg");
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path().join("q.sql");
    std::fs::write(&q, "SELECT score FROM app.customer_scores WHERE customer_id = 7 AND score_type = 'churn' ORDER BY created_at DESC LIMIT 1;\n")
        .expect("write");
    let run = advise_queries(&db, &q, &[]);
    run.expect_code(0);
    let r = run.json();
    assert_eq!(r["mode"], "estimated");
    assert_eq!(r["validated"], false);
    assert!(
        proposes(&r, "app.customer_scores", &["customer_id"]),
        "{:#}",
        r["indexes"]
    );
    assert!(
        r["notes"].as_array().expect("notes").iter().any(|n| n
            .as_str()
            .is_some_and(|s| s.contains("CREATE EXTENSION hypopg"))),
        "{:#}",
        r["notes"]
    );
}

/// `advise --queries FILE --format json` against `db`, plus `extra`.
fn advise_queries(db: &TestDb, queries: &std::path::Path, extra: &[&str]) -> common::Run {
    let file = queries.to_str().expect("utf-8");
    let args = [
        "advise",
        "--dsn",
        db.dsn(),
        "--queries",
        file,
        "--format",
        "json",
    ];
    run_pgadvisor(&[&args[..], extra].concat())
}

/// `advise` offline on the shipped seed-platform export and schema, plus `extra`.
fn offline_seed_platform(extra: &[&str]) -> common::Run {
    let fx = fixtures_dir();
    let stats = fx.join("stats/seed-platform.csv");
    let schema = fx.join("seed-platform/schema.sql");
    let mut args = vec![
        "advise",
        "--stats",
        stats.to_str().expect("utf-8"),
        "--schema",
        schema.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    run_pgadvisor(&args)
}

#[test]
fn offline_advice_from_the_shipped_fixtures() {
    // Relative paths from the repository root, as the README's command runs it,
    // so the golden output does not depend on where the checkout lives.
    let root = env!("CARGO_MANIFEST_DIR");
    let run = common::run(common::pgadvisor().current_dir(root).args([
        "advise",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--schema",
        "fixtures/seed-platform/schema.sql",
    ]));
    run.expect_code(0);
    assert!(run.stdout.contains("UNVALIDATED"), "{}", run.stdout);
    insta::assert_snapshot!(run.snapshot());

    let json = offline_seed_platform(&["--format", "json"]);
    json.expect_code(0);
    let r = json.json();
    assert_eq!(r["mode"], "offline");
    assert!(
        indexes(&r)
            .iter()
            .all(|ix| ix["validated"] == false && ix["cost_before"].is_null())
    );
}

#[test]
fn offline_advice_with_column_statistics_judges_skew_like_the_planner() {
    // The README's command: the shipped export of the seed platform's pg_stats.
    let root = env!("CARGO_MANIFEST_DIR");
    let run = common::run(common::pgadvisor().current_dir(root).args([
        "advise",
        "--stats",
        "fixtures/stats/seed-platform.csv",
        "--schema",
        "fixtures/seed-platform/schema.sql",
        "--column-stats",
        "fixtures/stats/seed-platform-column-stats.json",
    ]));
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("from the SQL, the schema file and column statistics"),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!(run.snapshot());

    // An export made now with sql/export_column_stats.sql from a live copy
    // of the platform gives the same judgement: no index for the status
    // lookup whose value is 'active' for 90% of customers.
    let db = common::TestDb::create("advise_colstats");
    db.load_seed_platform(0.02);
    db.psql("ANALYZE");
    let export = common::pg_tool("psql")
        .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-d", db.dsn(), "-f"])
        .arg(fixtures_dir().join("../sql/export_column_stats.sql"))
        .output()
        .expect("psql");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("column-stats.json");
    std::fs::write(&stats, &export.stdout).expect("write");
    let fx = fixtures_dir();
    let json = offline_seed_platform(&[
        "--column-stats",
        stats.to_str().expect("utf-8"),
        "--explain-why",
        "--format",
        "json",
    ]);
    json.expect_code(0);
    let r = json.json();
    assert_eq!(r["mode"], "offline");
    let status_only =
        |ix: &&Value| ix["table"] == "app.customers" && columns(ix) == ["status".to_string()];
    assert!(!indexes(&r).iter().any(status_only), "{r:#}");
    let why: Vec<&str> = r["rejected"]
        .as_array()
        .expect("rejected (--explain-why)")
        .iter()
        .filter_map(|x| x["reason"].as_str())
        .collect();
    assert!(
        why.iter()
            .any(|w| w.contains("status = $n may be 'active'")),
        "{why:?}"
    );
    // Without the statistics the same offline run proposes it.
    let bare = offline_seed_platform(&["--format", "json"]);
    assert!(indexes(&bare.json()).iter().any(status_only));
    // Statistics need the schema they describe.
    let alone = run_pgadvisor(&[
        "advise",
        "--stats",
        fx.join("stats/seed-platform.csv").to_str().expect("utf-8"),
        "--column-stats",
        stats.to_str().expect("utf-8"),
    ]);
    alone.expect_code(2);
    assert!(alone.stderr.contains("--schema"), "{}", alone.stderr);
}

#[test]
fn bad_inputs_fail_clearly() {
    let fx = fixtures_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.sql");
    std::fs::write(&empty, "-- nothing here\n").expect("write");
    let schema = fx.join("seed-platform/schema.sql");
    let run = run_pgadvisor(&[
        "advise",
        "--queries",
        empty.to_str().expect("utf-8"),
        "--schema",
        schema.to_str().expect("utf-8"),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("empty.sql"), "{}", run.stderr);

    let not_schema = dir.path().join("notschema.sql");
    std::fs::write(&not_schema, "SELECT 1;\n").expect("write");
    let run = run_pgadvisor(&[
        "advise",
        "--stats",
        fx.join("stats/seed-platform.csv").to_str().expect("utf-8"),
        "--schema",
        not_schema.to_str().expect("utf-8"),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("defines no tables"), "{}", run.stderr);

    let run = run_pgadvisor(&[
        "advise",
        "--dsn",
        &format!(
            "host=127.0.0.1 port={} user=postgres",
            common::closed_port()
        ),
        "--queries",
        schema.to_str().expect("utf-8"),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("127.0.0.1"), "{}", run.stderr);

    let run = run_pgadvisor(&[
        "advise",
        "--stats",
        "x.csv",
        "--schema",
        schema.to_str().expect("utf-8"),
        "--max-size",
        "5 parsecs",
    ]);
    run.expect_code(2);
}

#[test]
fn analyze_measures_read_only_samples_and_never_writes() {
    let db = TestDb::create("advise_analyze");
    db.load_seed_platform(0.05);
    let before = db.psql("SELECT sum(guests) FROM app.bookings");
    let dir = tempfile::tempdir().expect("tempdir");
    let queries = dir.path().join("queries.sql");
    std::fs::write(
        &queries,
        "-- weight: 40\n\
         SELECT id, event_date, status FROM app.bookings WHERE customer_id = 77 ORDER BY event_date DESC;\n\
         -- weight: 5\n\
         UPDATE app.bookings SET guests = guests + 1 WHERE customer_id = 77;\n",
    )
    .expect("write queries");
    let run = advise_queries(&db, &queries, &["--analyze"]);
    run.expect_code(0);
    let r = run.json();
    assert_eq!(
        r["whatif"]["analyzed"], 1,
        "only the SELECT runs under ANALYZE: {:#}",
        r["whatif"]
    );
    let ix = indexes(&r)
        .into_iter()
        .find(|ix| ix["table"] == "app.bookings")
        .unwrap_or_else(|| panic!("no bookings index: {:#}", r["indexes"]));
    let evidence = ix["evidence"].as_array().expect("evidence");
    let select = evidence
        .iter()
        .find(|e| e["query"].as_str().is_some_and(|q| q.starts_with("SELECT")))
        .unwrap_or_else(|| panic!("the SELECT is served: {ix:#}"));
    assert!(
        select["buffers_before"].as_f64().expect("measured buffers") > 0.0,
        "{ix:#}"
    );
    assert_eq!(
        select["calls"], 40.0,
        "the -- weight comment counts: {ix:#}"
    );
    // The UPDATE is served too, but was never run under ANALYZE.
    let update = evidence
        .iter()
        .find(|e| e["query"].as_str().is_some_and(|q| q.starts_with("UPDATE")));
    assert!(
        update.is_none_or(|u| u["buffers_before"].is_null()),
        "{ix:#}"
    );
    // The UPDATE was planned, never executed.
    assert_eq!(db.psql("SELECT sum(guests) FROM app.bookings"), before);
}

#[test]
fn a_role_without_pg_read_all_stats_is_told_which_grant_is_missing() {
    let db = TestDb::create("advise_ro");
    db.load_seed_platform(0.01);
    let role = format!("advise_ro_{}", std::process::id());
    db.psql(&format!(
        "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA app TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA app TO {role};"
    ));
    // Statements of other roles only (the superuser's), invisible to this one.
    db.psql("SELECT count(*) FROM app.customers WHERE email = 'x'");
    let dsn = common::dsn_with(db.dsn(), &[("user", &role)]);
    let run = run_pgadvisor(&["advise", "--dsn", &dsn, "--database", db.name()]);
    db.psql(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA app FROM {role}; REVOKE USAGE ON SCHEMA app FROM {role}; DROP ROLE {role};"
    ));
    run.expect_code(2);
    assert!(
        run.stderr
            .contains(&format!("GRANT pg_read_all_stats TO {role}")),
        "{}",
        run.stderr
    );
}
