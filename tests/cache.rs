//! `pgadvisor cache` end to end against a real redis-server (the dev
//! single node), a real 3-master Redis Cluster and PostgreSQL, plus private
//! redis-servers this file starts for the password and lost-server cases.
//! Every test uses its own key prefix (letters only, so it stays literal in
//! patterns) and its own PostgreSQL database, and removes what it created.

use std::collections::HashSet;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::Commands;

mod common;
use serde_json::Value;

/// Our database on the shared single node.
const DB: i64 = 12;

fn single_url() -> String {
    common::redis_url()
}

fn cluster_urls() -> Vec<String> {
    common::redis_cluster_urls()
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A unique letters-only key prefix, e.g. `pgatbdcaa`.
fn prefix(tag: &str) -> String {
    let n = std::process::id() as usize * 100 + SEQ.fetch_add(1, Ordering::SeqCst);
    let letters: String = n
        .to_string()
        .bytes()
        .map(|b| (b - b'0' + b'a') as char)
        .collect();
    format!("pgat{tag}{letters}")
}

fn single() -> redis::Connection {
    let client = redis::Client::open(single_url()).expect("redis url");
    let mut c = client.get_connection().expect("connect to the dev redis");
    redis::cmd("SELECT")
        .arg(DB)
        .query::<()>(&mut c)
        .expect("select");
    c
}

fn cluster() -> redis::cluster::ClusterConnection {
    redis::cluster::ClusterClient::new(cluster_urls())
        .expect("cluster client")
        .get_connection()
        .expect("connect to the dev cluster")
}

/// Delete every key with this prefix (only ours).
fn cleanup_single(prefix: &str) {
    let mut c = single();
    let keys: Vec<String> = scan_keys(&mut c, format!("{prefix}*"))
        .into_iter()
        .collect();
    for k in keys {
        let _: () = c.del(&k).expect("del");
    }
}

fn cleanup_cluster(prefix: &str) {
    for url in cluster_urls() {
        let mut c = redis::Client::open(url.as_str())
            .expect("url")
            .get_connection()
            .expect("node");
        let keys: Vec<String> = scan_keys(&mut c, format!("{prefix}*"))
            .into_iter()
            .collect();
        let mut cl = cluster();
        for k in keys {
            let _: () = cl.del(&k).expect("del");
        }
    }
}

/// Every key matching a glob on one connection (a single node).
fn scan_keys(c: &mut dyn redis::ConnectionLike, glob: String) -> Vec<String> {
    let mut cursor = 0u64;
    let mut out = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&glob)
            .arg("COUNT")
            .arg(1000)
            .query(c)
            .expect("scan");
        out.extend(keys);
        cursor = next;
        if cursor == 0 {
            return out;
        }
    }
}

fn run(args: &[&str]) -> Output {
    common::pgadvisor()
        .args(args)
        .env_remove("REDIS_URL")
        .output()
        .expect("run pgadvisor")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn pattern<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .find(|p| p["pattern"] == name)
        .unwrap_or_else(|| panic!("no pattern {name} in {:#}", report["patterns"]))
}

/// Load a known mix: 120 `customer:{id}` strings (TTL 1h), 40 `churn:{id}`
/// hashes (TTL 20 min), 25 `session:{uuid}` without TTL, one list of 3000
/// elements, 5 `rate:{id}` keys expiring within a minute.
fn load_mix(p: &str, mut set: impl FnMut(redis::Pipeline)) {
    let mut pipe = redis::pipe();
    for i in 0..120 {
        pipe.cmd("SET")
            .arg(format!("{p}:customer:{i}"))
            .arg(format!("{{\"id\":{i}}}"))
            .arg("EX")
            .arg(3600)
            .ignore();
    }
    for i in 0..40 {
        pipe.cmd("HSET")
            .arg(format!("{p}:churn:{i}"))
            .arg("score")
            .arg(i)
            .ignore();
        pipe.cmd("PEXPIRE")
            .arg(format!("{p}:churn:{i}"))
            .arg(1_200_000)
            .ignore();
    }
    for i in 0..25u32 {
        let uuid = format!(
            "{:08x}-1111-4222-8333-{:012x}",
            i * 7919 + 1,
            u64::from(i) * 104_729 + 5
        );
        pipe.cmd("SET")
            .arg(format!("{p}:session:{uuid}"))
            .arg("x")
            .ignore();
    }
    let items: Vec<String> = (0..3000).map(|i| format!("job-{i}")).collect();
    pipe.cmd("RPUSH")
        .arg(format!("{p}:queue:jobs"))
        .arg(&items)
        .ignore();
    for i in 0..5 {
        pipe.cmd("SET")
            .arg(format!("{p}:rate:{i}"))
            .arg(1)
            .arg("EX")
            .arg(50)
            .ignore();
    }
    set(pipe);
}

fn assert_mix(report: &Value, p: &str) {
    assert_eq!(report["scan"]["complete"], true);
    assert_eq!(report["overall"]["keys"], 191);
    let c = pattern(report, &format!("{p}:customer:{{id}}"));
    assert_eq!(c["keys"], 120);
    assert_eq!(c["types"]["string"], 120);
    assert_eq!(c["ttl"]["lt_1h"], 120);
    assert!(c["memory_bytes"].as_u64().unwrap_or(0) >= 120 * 10);
    assert!(c["size"]["p50"].as_u64().unwrap_or(0) > 0);
    let h = pattern(report, &format!("{p}:churn:{{id}}"));
    assert_eq!(
        (
            h["keys"].as_u64(),
            h["types"]["hash"].as_u64(),
            h["ttl"]["lt_1h"].as_u64()
        ),
        (Some(40), Some(40), Some(40))
    );
    let s = pattern(report, &format!("{p}:session:{{uuid}}"));
    assert_eq!(
        (s["keys"].as_u64(), s["ttl"]["none"].as_u64()),
        (Some(25), Some(25))
    );
    let r = pattern(report, &format!("{p}:rate:{{id}}"));
    assert_eq!(r["ttl"]["lt_1m"], 5);
    let q = pattern(report, &format!("{p}:queue:jobs"));
    assert_eq!(q["types"]["list"], 1);
    assert_eq!(report["patterns"].as_array().map(Vec::len), Some(5));
    let by_el = &report["biggest_keys"]["by_elements"][0];
    assert_eq!(by_el["key"], format!("{p}:queue:jobs"));
    assert_eq!(by_el["elements"], 3000);
    assert_eq!(
        report["biggest_keys"]["by_memory"][0]["key"],
        format!("{p}:queue:jobs")
    );
    let rules: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or(""),
                f["pattern"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        rules.contains(&(
            "pattern-without-ttl",
            format!("{p}:session:{{uuid}}").as_str()
        )),
        "{rules:?}"
    );
    assert!(
        !rules
            .iter()
            .any(|(r, pat)| *r == "pattern-without-ttl" && pat.contains("customer")),
        "{rules:?}"
    );
    assert!(
        report["server"]["redis_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
}

#[test]
fn inspect_single_node_reports_patterns_ttls_and_findings() {
    let p = prefix("ins");
    load_mix(&p, |pipe| pipe.query::<()>(&mut single()).expect("load"));
    let out = on_single(&["inspect", "--match", &format!("{p}:*"), "--format", "json"]);
    cleanup_single(&p);
    let report = json_of(&out);
    assert_eq!(report["mode"], "standalone");
    assert_eq!(report["db"], DB);
    assert_mix(&report, &p);
}

#[test]
fn inspect_table_shows_patterns() {
    let p = prefix("tab");
    load_mix(&p, |pipe| pipe.query::<()>(&mut single()).expect("load"));
    let out = on_single(&["inspect", "--match", &format!("{p}:*")]);
    cleanup_single(&p);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("{p}:customer:{{id}}")), "{text}");
    assert!(text.contains("Biggest keys by memory"), "{text}");
    assert!(text.contains("warning[pattern-without-ttl]"), "{text}");
}

#[test]
fn inspect_cluster_through_one_node_url_covers_every_master() {
    let p = prefix("cls");
    load_mix(&p, |pipe| {
        // A pipeline of keys in different slots: send them one by one
        // through the cluster client.
        let mut c = cluster();
        for cmd in pipe.cmd_iter() {
            cmd.query::<()>(&mut c).expect("load into the cluster");
        }
    });
    let url = cluster_urls()[1].clone();
    let out = run(&[
        "cache",
        "inspect",
        "--redis",
        &url,
        "--match",
        &format!("{p}:*"),
        "--format",
        "json",
    ]);
    cleanup_cluster(&p);
    let report = json_of(&out);
    assert_eq!(report["mode"], "cluster");
    assert_mix(&report, &p);
    let nodes = report["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    let per_node: Vec<u64> = nodes
        .iter()
        .map(|n| n["keys"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(per_node.iter().sum::<u64>(), 191);
    assert!(
        per_node.iter().all(|n| *n > 0),
        "keys spread over the masters: {per_node:?}"
    );
    assert_eq!(report["server"]["nodes"].as_array().map(Vec::len), Some(3));
}

#[test]
fn inspect_replicas_reads_each_master_s_replica() {
    let p = prefix("rep");
    load_mix(&p, |pipe| {
        let mut c = cluster();
        for cmd in pipe.cmd_iter() {
            cmd.query::<()>(&mut c).expect("load into the cluster");
        }
    });
    // Replication is asynchronous: wait until the replicas hold every key.
    let url = cluster_urls()[0].clone();
    let pattern = format!("{p}:*");
    let args = [
        "cache",
        "inspect",
        "--redis",
        &url,
        "--replicas",
        "--match",
        &pattern,
        "--format",
        "json",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let report = loop {
        let report = json_of(&run(&args));
        let keys: u64 = report["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["keys"].as_u64().unwrap_or(0))
            .sum();
        if keys == 191 || std::time::Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    cleanup_cluster(&p);
    assert_eq!(report["mode"], "cluster");
    assert_mix(&report, &p);
    let nodes = report["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3, "one replica per master: {nodes:?}");
    let masters: Vec<String> = cluster_urls()
        .iter()
        .map(|u| {
            u.trim_start_matches("redis://")
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    for n in nodes {
        let node = n["node"].as_str().expect("node");
        let of = n["replica_of"]
            .as_str()
            .unwrap_or_else(|| panic!("{node} is a master, not a replica: {n}"));
        assert!(
            !masters.iter().any(|m| m == node),
            "{node} is one of the masters {masters:?}"
        );
        assert!(
            masters.iter().any(|m| m == of),
            "{of} is not a master of {masters:?}"
        );
    }
}

#[test]
fn inspect_sample_stops_early_and_extrapolates() {
    let p = prefix("smp");
    let mut c = single();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("SET")
            .arg(format!("{p}:item:{i}"))
            .arg("v")
            .ignore();
    }
    pipe.query::<()>(&mut c).expect("load");
    let out = on_single(&[
        "inspect",
        "--match",
        &format!("{p}:*"),
        "--sample",
        "1000",
        "--scan-count",
        "200",
        "--format",
        "json",
    ]);
    cleanup_single(&p);
    let report = json_of(&out);
    let scanned = report["scan"]["keys_scanned"].as_u64().unwrap_or(0);
    assert!((1000..5000).contains(&scanned), "scanned {scanned}");
    assert_eq!(report["scan"]["complete"], false);
    assert!(
        report["scan"]["extrapolation"]
            .as_str()
            .is_some_and(|s| s.contains("sampled"))
    );
    assert!(report["scan"]["resume_cursor"].is_string());
    let est = report["overall"]["keys"].as_u64().unwrap_or(0);
    assert!(est > scanned, "extrapolated {est} from {scanned}");
}

// ---------------------------------------------------------------- warm

/// A database of its own with the cache fixture (fixtures/cache/schema.sql).
fn warm_db(tag: &str) -> common::TestDb {
    let db = common::TestDb::create(&format!("cache_{tag}"));
    common::psql_file(
        db.dsn(),
        &common::fixtures_dir().join("cache/schema.sql"),
        &[],
    );
    db
}

/// The example spec with our prefix in front of every key.
fn spec_file(p: &str, dir: &tempfile::TempDir) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/cache/warm.yaml"
    ))
    .expect("example spec");
    let text = text
        .replace(
            "key: \"customer:{id}\"",
            &format!("key: \"{p}:customer:{{id}}\""),
        )
        .replace(
            "key: \"churn:{customer_id}\"",
            &format!("key: \"{p}:churn:{{customer_id}}\""),
        );
    assert!(
        text.contains(p),
        "the example spec's keys changed; update this test"
    );
    let path = dir.path().join("warm.yaml");
    std::fs::write(&path, text).expect("write spec");
    path.display().to_string()
}

/// `pgadvisor cache <args…> --redis <the single node> --db <ours>`.
fn on_single(args: &[&str]) -> Output {
    let (url, db) = (single_url(), DB.to_string());
    run(&[&["cache"][..], args, &["--redis", &url, "--db", &db]].concat())
}

/// `cache warm SPEC --format json` from `dsn` into `redis`, plus `extra`.
fn warm_run(spec: &str, dsn: &str, redis: &str, extra: &[&str]) -> Output {
    let args = [
        "cache", "warm", spec, "--dsn", dsn, "--redis", redis, "--format", "json",
    ];
    run(&[&args[..], extra].concat())
}

/// `cache warm SPEC` into our database on the single node; the JSON summary.
fn warm_single(spec: &str, dsn: &str) -> Value {
    json_of(&warm_run(
        spec,
        dsn,
        &single_url(),
        &["--db", &DB.to_string()],
    ))
}

/// A spec file with `yaml` in `dir`; its path.
fn write_spec(dir: &tempfile::TempDir, yaml: &str) -> String {
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, yaml).expect("write spec");
    path.display().to_string()
}

/// Expected fixture values (see fixtures/cache/schema.sql).
fn active(i: u64) -> bool {
    !(i.is_multiple_of(50) || i.is_multiple_of(12))
}

/// What a test reads back for one key: the string value, the hash fields, PTTL.
type Fetched = (
    Option<String>,
    std::collections::HashMap<String, String>,
    i64,
);

fn check_warmed(p: &str, get: &mut dyn FnMut(&str) -> Fetched) {
    for i in [1u64, 7, 12, 13, 50, 299, 500] {
        let (json, _, pttl) = get(&format!("{p}:customer:{i}"));
        if active(i) {
            let v: Value =
                serde_json::from_str(json.as_deref().unwrap_or("null")).expect("JSON value");
            assert_eq!(v["id"], i);
            assert_eq!(v["tenant_id"], i % 5 + 1);
            assert_eq!(v["status"], "active");
            assert_eq!(v["department"], format!("dept-{}", i % 10));
            if i % 10 < 3 {
                assert_eq!(v["email"], Value::Null);
            } else {
                assert_eq!(v["email"], format!("user{i}@example.com"));
            }
            // 1h ± 10 %.
            assert!(
                (3_000_000..=3_960_000).contains(&pttl),
                "customer {i} pttl {pttl}"
            );
        } else {
            assert_eq!(json, None, "inactive customer {i} must not be cached");
        }
        let (_, hash, hpttl) = get(&format!("{p}:churn:{i}"));
        assert_eq!(
            hash.get("customer_id").map(String::as_str),
            Some(i.to_string().as_str())
        );
        assert_eq!(
            hash.get("score").map(String::as_str),
            Some(format!("0.{:02}0", i % 100).as_str()),
            "churn {i}"
        );
        assert_eq!(hash.get("confidence").map(String::as_str), Some("0.500"));
        assert!(hash.contains_key("scored_at"));
        assert!(
            (1_500_000..=1_980_000).contains(&hpttl),
            "churn {i} pttl {hpttl}"
        );
    }
}

fn warm_summary<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["name"] == name)
        .expect("entry")
}

#[test]
fn warm_single_node_writes_keys_values_and_ttls() {
    let p = prefix("wrm");
    let pg = warm_db("warm");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_file(&p, &dir);
    let v = warm_single(&spec, pg.dsn());
    let mut c = single();
    let mut get = |k: &str| {
        let json: Option<String> = if c.key_type::<_, String>(k).unwrap_or_default() == "string" {
            c.get(k).expect("get")
        } else {
            None
        };
        let hash: std::collections::HashMap<String, String> = c.hgetall(k).unwrap_or_default();
        let pttl: i64 = c.pttl(k).expect("pttl");
        (json, hash, pttl)
    };
    check_warmed(&p, &mut get);
    let customers: Vec<String> = scan_keys(&mut c, format!("{p}:customer:*"))
        .into_iter()
        .collect();
    let churn: Vec<String> = scan_keys(&mut c, format!("{p}:churn:*"))
        .into_iter()
        .collect();
    cleanup_single(&p);
    let expected_active = (1..=500u64).filter(|i| active(*i)).count();
    assert_eq!(customers.len(), expected_active);
    assert_eq!(churn.len(), 500);
    let s = warm_summary(&v, "customers");
    assert_eq!(
        (
            s["status"].as_str(),
            s["rows_read"].as_u64(),
            s["keys_written"].as_u64()
        ),
        (
            Some("ok"),
            Some(expected_active as u64),
            Some(expected_active as u64)
        )
    );
    assert!(s["bytes"].as_u64().unwrap_or(0) > 0);
    assert_eq!(warm_summary(&v, "churn")["keys_written"], 500);
}

#[test]
fn warm_cluster_groups_keys_by_slot() {
    let p = prefix("wcl");
    let pg = warm_db("warmcl");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_file(&p, &dir);
    let out = run(&[
        "cache",
        "warm",
        &spec,
        "--dsn",
        pg.dsn(),
        "--redis",
        &cluster_urls()[2],
        "--format",
        "json",
    ]);
    let mut c = cluster();
    let mut get = |k: &str| {
        let t: String = c.key_type(k).unwrap_or_default();
        let json: Option<String> = if t == "string" {
            c.get(k).expect("get")
        } else {
            None
        };
        let hash: std::collections::HashMap<String, String> = if t == "hash" {
            c.hgetall(k).expect("hgetall")
        } else {
            Default::default()
        };
        let pttl: i64 = c.pttl(k).expect("pttl");
        (json, hash, pttl)
    };
    let v = json_of(&out);
    check_warmed(&p, &mut get);
    let mut total = 0;
    for url in cluster_urls() {
        let mut n = redis::Client::open(url.as_str())
            .expect("url")
            .get_connection()
            .expect("node");
        let keys: Vec<String> = scan_keys(&mut n, format!("{p}:*")).into_iter().collect();
        assert!(!keys.is_empty(), "node {url} got none of the keys");
        total += keys.len();
    }
    cleanup_cluster(&p);
    let expected_active = (1..=500u64).filter(|i| active(*i)).count();
    assert_eq!(total, expected_active + 500);
    assert_eq!(
        warm_summary(&v, "customers")["keys_written"],
        expected_active as u64
    );
}

#[test]
fn warm_dry_run_writes_nothing_and_shows_samples() {
    let p = prefix("dry");
    let pg = warm_db("dry");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_file(&p, &dir);
    // No --redis: a dry run never connects to Redis.
    let out = run(&[
        "cache",
        "warm",
        &spec,
        "--dsn",
        pg.dsn(),
        "--dry-run",
        "--format",
        "json",
    ]);
    let v = json_of(&out);
    let s = warm_summary(&v, "customers");
    assert_eq!(s["status"], "dry-run");
    assert_eq!(s["samples"].as_array().map(Vec::len), Some(3));
    assert_eq!(s["samples"][0]["key"], format!("{p}:customer:1"));
    let mut c = single();
    let left: Vec<String> = scan_keys(&mut c, format!("{p}*")).into_iter().collect();
    assert!(left.is_empty());
    let mut c0 = redis::Client::open(single_url())
        .expect("url")
        .get_connection()
        .expect("connect");
    let left0: Vec<String> = scan_keys(&mut c0, format!("{p}*")).into_iter().collect();
    assert!(left0.is_empty());
}

/// Hex text of psql's output → bytes.
fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Every row of `sql` as (id, hex of the text expression `expr` over it).
fn expected(db: &common::TestDb, sql: &str, expr: &str) -> Vec<(u64, Vec<u8>)> {
    db.psql(&format!(
        "SET TimeZone = 'Asia/Kolkata'; SELECT q.id, encode(convert_to({expr}, 'UTF8'), 'hex') FROM ({sql}) AS q ORDER BY q.id"
    ))
    .lines()
    .map(|l| {
        let (id, hex) = l.split_once('|').expect("id|hex");
        (id.parse().expect("id"), unhex(hex))
    })
    .collect()
}

#[test]
fn warm_json_values_are_exactly_row_to_json_for_every_common_type() {
    let p = prefix("typ");
    let pg = warm_db("types");
    pg.psql(
        r#"
CREATE TYPE mood AS ENUM ('ok', 'say "hi"');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE typed (
    id int PRIMARY KEY, s smallint, b bigint, o oid, flag boolean,
    t text, v varchar(20), c char(6), n name, j json, jb jsonb,
    f4 real, f8 double precision, num numeric(12,4),
    ts timestamp, tstz timestamptz, d date, tm time, iv interval,
    u uuid, ip inet, arr int[], tarr text[], m mood, dom posint, pr pair,
    by bytea, bits bit(4), "Mixed Case" text, "select" int);
INSERT INTO typed VALUES
 (1, -32768, -9223372036854775808, 4294967295, true,
  E'quote " back \\ nl \n cr \r tab \t bs \b ff \f ctl \x01\x1f é ✓ 😀', 'varchar', 'ab', 'a name',
  '{"a" : [1, 2.50], "b":null}', '{"b": [true, "x"], "a": 1.0}',
  'NaN', 'Infinity', 'NaN', '2024-02-29 23:59:59.123456', '2024-01-01 00:00:00+05:30', '0044-03-15 BC',
  '12:34:56.5', '1 year 2 mons -3 days 04:05:06', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '192.168.1.1', '{1,NULL,3}', '{"x y","q\"","",NULL}', 'say "hi"', 7, ROW(1, 'p"q'),
  '\x00ff10', B'1010', 'mixed', 1),
 (2, 7, 9223372036854775807, 0, false, '', '', '      ', '', 'null', '[]',
  '-Infinity', 1.5e300, 12345678.1234, 'infinity', '-infinity', 'infinity',
  '00:00', '0', '00000000-0000-0000-0000-000000000000', '::1/128', '{}', '{}', 'ok', 1,
  ROW(NULL, NULL), '\x', B'0000', '', -1),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let all = "SELECT * FROM typed";
    let some = "SELECT id, c, flag, d, tstz, ip FROM typed";
    let spec = write_spec(
        &dir,
        &format!(
            "entries:\n  - name: all\n    query: {all}\n    key: \"{p}:t:{{id}}\"\n    ttl: none\n\
             \x20 - name: keys\n    query: {some}\n    key: \"{p}:k:{{c}}|{{flag}}|{{d}}|{{tstz}}|{{ip}}\"\n    ttl: none\n"
        ),
    );
    // A fixed session time zone, so the timestamptz text is the same for
    // pgadvisor's session and psql's.
    let dsn = format!("{} options='-c TimeZone=Asia/Kolkata'", pg.dsn());
    let v = warm_single(&spec, &dsn);
    let mut c = single();
    let values = expected(&pg, all, "row_to_json(q)::text");
    assert_eq!(values.len(), 3);
    for (id, want) in &values {
        let got: Vec<u8> = c.get(format!("{p}:t:{id}")).expect("get");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "row {id}"
        );
    }
    // Keys from other types are PostgreSQL's text of the value (bpchar
    // without its padding); the NULL row gets no key.
    let mut want_keys: Vec<String> = expected(
        &pg,
        &format!("{some} WHERE c IS NOT NULL"),
        &format!("'{p}:k:' || c::text || '|' || flag::text || '|' || d::text || '|' || tstz::text || '|' || ip::text"),
    )
    .into_iter()
    .map(|(_, k)| String::from_utf8(k).expect("utf-8"))
    .collect();
    let mut got_keys = scan_keys(&mut c, format!("{p}:k:*"));
    cleanup_single(&p);
    want_keys.sort();
    got_keys.sort();
    assert_eq!(got_keys, want_keys);
    assert!(
        want_keys.iter().any(|k| k.contains(":ab|true|")),
        "{want_keys:?}"
    );
    assert_eq!(warm_summary(&v, "keys")["rows_skipped"], 1);
}

#[test]
fn warm_postgres_error_names_the_entry_and_fails() {
    let p = prefix("pge");
    let pg = warm_db("pgerr");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        &dir,
        &format!(
            "entries:\n  - name: broken\n    query: SELECT id FROM app.no_such_table\n    key: \"{p}:x:{{id}}\"\n  - name: good\n    query: SELECT id FROM app.customers WHERE id <= $1\n    params: [3]\n    key: \"{p}:good:{{id}}\"\n    ttl: 1m\n"
        ),
    );
    let out = on_single(&["warm", &spec, "--dsn", pg.dsn()]);
    let mut c = single();
    let good: Vec<String> = scan_keys(&mut c, format!("{p}:good:*"))
        .into_iter()
        .collect();
    cleanup_single(&p);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entry \"broken\"") && err.contains("no_such_table"),
        "{err}"
    );
    assert_eq!(good.len(), 3, "the next entry still runs");
}

// ---------------------------------------------------------------- invalidate

#[test]
fn invalidate_single_node_removes_exactly_the_matching_keys() {
    let p = prefix("inv");
    let mut c = single();
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("SET")
            .arg(format!("{p}:customer:{i}"))
            .arg(1)
            .ignore();
    }
    for i in 0..20 {
        pipe.cmd("SET")
            .arg(format!("{p}:customer:{i}:orders"))
            .arg(1)
            .ignore();
    }
    pipe.cmd("SET")
        .arg(format!("{p}:customers"))
        .arg(1)
        .ignore();
    pipe.query::<()>(&mut c).expect("load");
    let pat = format!("{p}:customer:{{id}}");
    let dry = on_single(&["invalidate", &pat, "--format", "json"]);
    let dry = json_of(&dry);
    assert_eq!(
        (
            dry["matched"].as_u64(),
            dry["unlinked"].as_u64(),
            dry["deleted"].as_bool()
        ),
        (Some(300), Some(0), Some(false))
    );
    let all: Vec<String> = scan_keys(&mut c, format!("{p}:*")).into_iter().collect();
    assert_eq!(all.len(), 321, "a count without --yes deletes nothing");
    let yes = json_of(&on_single(&[
        "invalidate",
        &pat,
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(yes["unlinked"], 300);
    let left: HashSet<String> = scan_keys(&mut c, format!("{p}:*")).into_iter().collect();
    let want: HashSet<String> = (0..20)
        .map(|i| format!("{p}:customer:{i}:orders"))
        .chain([format!("{p}:customers")])
        .collect();
    assert_eq!(left, want);
    // A glob removes what it matches.
    let glob = json_of(&on_single(&[
        "invalidate",
        &format!("{p}:customer:*"),
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(glob["unlinked"], 20);
    cleanup_single(&p);
}

#[test]
fn invalidate_cluster_unlinks_on_every_master() {
    let p = prefix("icl");
    let mut c = cluster();
    for i in 0..200 {
        let _: () = c.set(format!("{p}:churn:{i}"), i).expect("set");
    }
    let _: () = c.set(format!("{p}:keep"), 1).expect("set");
    let out = json_of(&run(&[
        "cache",
        "invalidate",
        &format!("{p}:churn:*"),
        "--redis",
        &cluster_urls()[0],
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(out["matched"], 200);
    assert_eq!(out["unlinked"], 200);
    assert_eq!(out["nodes"].as_array().map(Vec::len), Some(3));
    let kept: bool = c.exists(format!("{p}:keep")).expect("exists");
    let gone: bool = c.exists(format!("{p}:churn:7")).expect("exists");
    cleanup_cluster(&p);
    assert!(kept && !gone);
}

// ---------------------------------------------------------------- errors

struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start(extra: &[&str]) -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed?)");
        let server = PrivateRedis { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {port} did not start");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn refused_connection_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let out = run(&[
        "cache",
        "inspect",
        "--redis",
        &format!("redis://127.0.0.1:{port}/"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connection refused") && err.contains(&port.to_string()),
        "{err}"
    );
}

#[test]
fn wrong_password_is_a_clear_error_without_the_password() {
    let r = PrivateRedis::start(&["--requirepass", "right-horse-battery"]);
    for args in [vec!["cache", "inspect"], vec!["cache", "invalidate", "x:*"]] {
        let mut a = args.clone();
        let url = format!("redis://:wrong-staple-9@127.0.0.1:{}/", r.port);
        a.extend(["--redis", url.as_str()]);
        let out = run(&a);
        assert_eq!(out.status.code(), Some(2));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("rejected the credentials"), "{all}");
        assert!(!all.contains("wrong-staple-9"), "password printed: {all}");
    }
    // No password at all.
    let out = run(&[
        "cache",
        "inspect",
        "--redis",
        &format!("redis://127.0.0.1:{}/", r.port),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires authentication"));
    // The right one works, also through REDIS_URL.
    let out = common::pgadvisor()
        .args(["cache", "inspect", "--format", "json"])
        .env(
            "REDIS_URL",
            format!("redis://:right-horse-battery@127.0.0.1:{}/", r.port),
        )
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["overall"]["keys"], 0);
}

#[test]
fn cluster_node_with_a_database_number_is_explained() {
    let url = format!("{}/3", cluster_urls()[0].trim_end_matches('/'));
    let out = run(&["cache", "inspect", "--redis", &url]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Redis Cluster node") && err.contains("database 0"),
        "{err}"
    );
}

#[test]
fn warm_counts_exactly_what_a_full_redis_accepted() {
    // 2 MB and no eviction: Redis refuses writes (OOM) part-way through.
    let r = PrivateRedis::start(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let pg = warm_db("oom");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        &dir,
        "entries:\n  - name: big\n    query: SELECT i AS id, repeat('x', 2000) AS pad FROM generate_series(1, 3000) AS i\n    key: \"big:{id}\"\n    batch_size: 500\n",
    );
    let url = format!("redis://127.0.0.1:{}/", r.port);
    let out = warm_run(&spec, pg.dsn(), &url, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let s = warm_summary(&v, "big");
    assert_eq!(s["status"], "failed");
    let mut c = redis::Client::open(url.as_str())
        .expect("url")
        .get_connection()
        .expect("connect");
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
    assert!(dbsize > 0 && dbsize < 3000, "{dbsize}");
    assert_eq!(s["keys_written"], dbsize, "{s}");
    assert!(
        err.contains("Redis refused") && err.contains("OOM"),
        "{err}"
    );
    assert!(
        err.starts_with("error: entry \"big\": Redis refused"),
        "{err}"
    );
}

#[test]
fn warm_reports_exact_confirmed_keys_when_redis_goes_away() {
    let mut r = PrivateRedis::start(&[]);
    let pg = warm_db("lost");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        &dir,
        "entries:\n  - name: scores\n    query: SELECT id, customer_id, score FROM app.customer_scores ORDER BY id\n    key: \"s:{id}\"\n    value: hash\n    batch_size: 20\n",
    );
    let port = r.port;
    let killer = std::thread::spawn(move || {
        // Let some batches through, then take the server away.
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .expect("url")
            .get_connection()
            .expect("connect");
        for _ in 0..400 {
            let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap_or(0);
            if n >= 100 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap_or(0);
        let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
        n
    });
    let out = warm_run(
        &spec,
        pg.dsn(),
        &format!("redis://127.0.0.1:{port}/"),
        &["--max-rate", "200", "--retries", "2"],
    );
    let seen_before_kill = killer.join().expect("killer");
    let _ = r.child.wait();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON summary even on failure");
    let s = warm_summary(&v, "scores");
    assert_eq!(s["status"], "failed");
    let written = s["keys_written"].as_u64().unwrap_or(u64::MAX);
    assert!(
        written >= seen_before_kill && written < 1000,
        "written {written}, seen {seen_before_kill}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{written} keys confirmed written")),
        "{err}"
    );
}

#[test]
fn rediss_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |f: &str| dir.path().join(f).display().to_string();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (needed to make test certificates)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &d("ca.key"),
        "-out",
        &d("ca.crt"),
        "-days",
        "2",
        "-subj",
        "/CN=pgadvisor test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &d("srv.key"),
        "-out",
        &d("srv.csr"),
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(d("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").expect("write");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &d("srv.csr"),
        "-CA",
        &d("ca.crt"),
        "-CAkey",
        &d("ca.key"),
        "-CAcreateserial",
        "-out",
        &d("srv.crt"),
        "-days",
        "2",
        "-extfile",
        &d("ext.cnf"),
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args([
            "--tls-cert-file",
            &d("srv.crt"),
            "--tls-key-file",
            &d("srv.key"),
            "--tls-ca-cert-file",
            &d("ca.crt"),
            "--tls-auth-clients",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    let server = PrivateRedis { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("rediss://localhost:{port}/");
    let trusted = common::pgadvisor()
        .args(["cache", "inspect", "--redis", &url, "--format", "json"])
        .env("SSL_CERT_FILE", d("ca.crt"))
        .output()
        .expect("run");
    let report = json_of(&trusted);
    assert!(
        report["target"]
            .as_str()
            .is_some_and(|t| t.ends_with("(TLS)"))
    );
    assert_eq!(report["overall"]["keys"], 0);
    // warm writes over TLS too (its writers open connections of their own).
    let pg = warm_db("tls");
    let p = prefix("tls");
    let spec = spec_file(&p, &dir);
    let warmed = common::pgadvisor()
        .args(["cache", "warm", &spec, "--dsn", pg.dsn(), "--redis", &url])
        .args(["--format", "json"])
        .env("SSL_CERT_FILE", d("ca.crt"))
        .output()
        .expect("run");
    let expected_active = (1..=500u64).filter(|i| active(*i)).count();
    assert_eq!(
        warm_summary(&json_of(&warmed), "customers")["keys_written"],
        expected_active
    );
    let after = common::pgadvisor()
        .args(["cache", "inspect", "--redis", &url, "--format", "json"])
        .env("SSL_CERT_FILE", d("ca.crt"))
        .output()
        .expect("run");
    assert_eq!(
        json_of(&after)["overall"]["keys"],
        expected_active as u64 + 500
    );
    // Without the CA the certificate is refused, with a hint.
    let untrusted = run(&["cache", "inspect", "--redis", &url]);
    assert_eq!(untrusted.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("not trusted"));
}

#[test]
fn interrupted_inspect_prints_a_cursor_that_resumes_where_it_stopped() {
    let p = prefix("cur");
    let mut c = single();
    let mut pipe = redis::pipe();
    for i in 0..6000 {
        pipe.cmd("SET").arg(format!("{p}:k:{i}")).arg(1).ignore();
    }
    pipe.query::<()>(&mut c).expect("load");
    // Checkpoints go to a state directory of this test's own.
    let state = tempfile::tempdir().expect("tempdir");
    let inspect = || {
        let mut cmd = common::pgadvisor();
        cmd.args(["cache", "inspect", "--redis", &single_url(), "--db", "12"])
            .args(["--scan-count", "100", "--format", "json"])
            .args(["--match", &format!("{p}:*")])
            .env("XDG_STATE_HOME", state.path());
        cmd
    };
    // Slow enough (about 6,000 commands/s) that the interrupt lands mid-scan.
    let child = inspect()
        .args(["--max-ops-per-sec", "6000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1200));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let first = child.wait_with_output().expect("wait");
    let first_err = String::from_utf8_lossy(&first.stderr).into_owned();
    assert_eq!(first.status.code(), Some(2), "{first_err}");
    let part: Value = serde_json::from_slice(&first.stdout).expect("partial report");
    assert_eq!(part["scan"]["interrupted"], true);
    assert_eq!(part["scan"]["complete"], false);
    let cursor = part["scan"]["resume_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    assert!(
        first_err.contains(&format!("--cursor '{cursor}'")),
        "{first_err}"
    );
    assert!(
        first_err.contains("merged into the resumed report"),
        "{first_err}"
    );
    let saved: Vec<_> = std::fs::read_dir(state.path().join("pgadvisor"))
        .expect("state dir")
        .collect();
    assert_eq!(saved.len(), 1, "one checkpoint file");
    let a = part["scan"]["keys_scanned"].as_u64().unwrap_or(0);

    // Another cursor does not pick up the saved totals, and says so.
    let other = inspect().args(["--cursor", "1"]).output().expect("run");
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("not merged"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );

    // The printed cursor continues the scan and the report: the whole
    // keyspace, complete, with the first run's keys counted once.
    let rest = json_of(&inspect().args(["--cursor", &cursor]).output().expect("run"));
    cleanup_single(&p);
    assert_eq!(rest["scan"]["complete"], true, "{rest}");
    assert_eq!(rest["scan"]["keys_scanned_earlier"], a);
    let total = rest["scan"]["keys_scanned"].as_u64().unwrap_or(0);
    let b = total - a;
    assert!(a > 0 && b > 0, "{a} + {b}");
    // SCAN guarantees every key present throughout is returned at least once.
    assert!(total >= 6000, "{a} + {b}");
    assert!(total <= 6100, "few duplicates: {a} + {b}");
    assert_eq!(rest["overall"]["keys"], total);
    let pat = pattern(&rest, &format!("{p}:k:{{id}}"));
    assert_eq!(pat["keys"], total);
    // A complete scan removes the checkpoint it consumed.
    assert_eq!(
        std::fs::read_dir(state.path().join("pgadvisor"))
            .expect("state dir")
            .count(),
        0
    );
}
