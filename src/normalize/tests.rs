//! Equivalence classes of the fingerprint (docs/fingerprint.md), pair by
//! pair; round trips of the normalized text; no input panics.

use super::*;

fn fp(sql: &str) -> Normalized {
    fingerprint(sql)
}

/// Pairs that are one query shape.
const SAME: &[(&str, &str)] = &[
    // literal values of every type, and casts applied directly to them
    (
        "SELECT a FROM t WHERE b = 1",
        "SELECT a FROM t WHERE b = 'x'",
    ),
    (
        "SELECT a FROM t WHERE b = 1.5e3",
        "SELECT a FROM t WHERE b = E'\\'x'",
    ),
    (
        "SELECT a FROM t WHERE b = 1::bigint",
        "SELECT a FROM t WHERE b = 2",
    ),
    (
        "SELECT a FROM t WHERE b = $1::uuid",
        "SELECT a FROM t WHERE b = 'f0e1'",
    ),
    (
        "SELECT a FROM t WHERE b > DATE '2024-01-01'",
        "SELECT a FROM t WHERE b > $1",
    ),
    (
        "SELECT a FROM t WHERE b > CAST('2024-01-01' AS date)",
        "SELECT a FROM t WHERE b > $1",
    ),
    (
        "SELECT a FROM t WHERE b > now() - interval '1 day'",
        "SELECT a FROM t WHERE b > now() - $1",
    ),
    (
        "SELECT a FROM t WHERE b = true",
        "SELECT a FROM t WHERE b = false",
    ),
    (
        "SELECT a FROM t WHERE b = -1",
        "SELECT a FROM t WHERE b = 7",
    ),
    (
        "SELECT a FROM t WHERE b = $$x$$",
        "SELECT a FROM t WHERE b = 'y'",
    ),
    (
        "INSERT INTO t (a) VALUES (NULL)",
        "INSERT INTO t (a) VALUES (5)",
    ),
    // literal vs $n
    (
        "SELECT a FROM t WHERE b = 42 LIMIT 10",
        "SELECT a FROM t WHERE b = $1 LIMIT $2",
    ),
    // whitespace, keyword case, comments, identifier case
    (
        "SELECT a\n  FROM t\tWHERE b = 1",
        "select a from t where b = 1",
    ),
    (
        "SELECT a FROM t -- why\nWHERE /* x */ b = 1 /*app='x'*/",
        "SELECT a FROM t WHERE b = 1",
    ),
    ("SELECT A FROM T WHERE B = 1", "SELECT a FROM t WHERE b = 1"),
    // column aliases
    (
        "SELECT a AS x, count(*) AS n FROM t",
        "SELECT a, count(*) FROM t",
    ),
    ("SELECT a x FROM t", "SELECT a FROM t"),
    (
        "INSERT INTO t (a) VALUES (1) RETURNING id AS new_id",
        "INSERT INTO t (a) VALUES (1) RETURNING id",
    ),
    // order of the SELECT list, AND/OR operands, INSERT columns
    ("SELECT a, b, c FROM t", "SELECT c, a, b FROM t"),
    (
        "SELECT a FROM t WHERE b = 1 AND c = 2 AND d = 3",
        "SELECT a FROM t WHERE d = 3 AND b = 1 AND c = 2",
    ),
    (
        "SELECT a FROM t WHERE b = 1 OR c = 2",
        "SELECT a FROM t WHERE c = 2 OR b = 1",
    ),
    (
        "SELECT a FROM t WHERE (b = 1 OR c = 2) AND d = 3",
        "SELECT a FROM t WHERE d = 3 AND (c = 2 OR b = 1)",
    ),
    (
        "INSERT INTO t (a, b) VALUES (1, now())",
        "INSERT INTO t (b, a) VALUES (now(), 1)",
    ),
    // IN-list length, = ANY, =, PostgreSQL 18's squashed lists
    (
        "SELECT a FROM t WHERE b IN (1, 2, 3)",
        "SELECT a FROM t WHERE b IN (1)",
    ),
    (
        "SELECT a FROM t WHERE b IN (1, 2, 3)",
        "SELECT a FROM t WHERE b = ANY($1)",
    ),
    (
        "SELECT a FROM t WHERE b IN (1, 2, 3)",
        "SELECT a FROM t WHERE b = $1",
    ),
    (
        "SELECT a FROM t WHERE b IN (1, 2, 3)",
        "SELECT a FROM t WHERE b IN ($1 /*, ... */)",
    ),
    (
        "SELECT a FROM t WHERE b = ANY(ARRAY[1, 2])",
        "SELECT a FROM t WHERE b = ANY(ARRAY[$1 /*, ... */])",
    ),
    (
        "SELECT a FROM t WHERE b NOT IN (1, 2)",
        "SELECT a FROM t WHERE b <> ALL($1)",
    ),
    (
        "SELECT a FROM t WHERE b IN (1::bigint, 2::bigint)",
        "SELECT a FROM t WHERE b IN ('1', 2)",
    ),
    (
        "SELECT a FROM t WHERE (b, c) IN ((1, 2), (3, 4))",
        "SELECT a FROM t WHERE (b, c) IN (($1, $2))",
    ),
    // multi-row VALUES count
    (
        "INSERT INTO t (a, b) VALUES (1, 2), (3, 4), (5, 6)",
        "INSERT INTO t (a, b) VALUES ($1, $2)",
    ),
    // redundant parentheses
    (
        "SELECT a FROM t WHERE (b = 1)",
        "SELECT a FROM t WHERE b = 1",
    ),
    // utility statement names
    ("SAVEPOINT sp1", "SAVEPOINT $1"),
    ("SAVEPOINT a", "savepoint b"),
    ("DEALLOCATE p1", "DEALLOCATE $1"),
    ("RELEASE SAVEPOINT a", "RELEASE SAVEPOINT b"),
    ("ROLLBACK TO SAVEPOINT a", "ROLLBACK TO SAVEPOINT b"),
    ("SET work_mem = '64MB'", "SET work_mem = '1GB'"),
    // a trailing semicolon
    ("SELECT 1;", "SELECT 1"),
];

/// Pairs that are different query shapes.
const DIFFERENT: &[(&str, &str)] = &[
    ("SELECT a FROM t WHERE b = 1", "SELECT a FROM u WHERE b = 1"),
    ("SELECT a FROM t WHERE b = 1", "SELECT a FROM t WHERE c = 1"),
    ("SELECT a FROM t WHERE b = 1", "SELECT b FROM t WHERE b = 1"),
    ("SELECT a FROM t WHERE b = 1", "SELECT a FROM t WHERE b > 1"),
    (
        "SELECT a FROM t WHERE b = 1",
        "SELECT a FROM t WHERE b <> 1",
    ),
    ("SELECT count(a) FROM t", "SELECT sum(a) FROM t"),
    ("SELECT a::int FROM t", "SELECT a::bigint FROM t"),
    (
        "SELECT a FROM t JOIN u ON u.id = t.id",
        "SELECT a FROM t LEFT JOIN u ON u.id = t.id",
    ),
    (
        "SELECT a FROM t LEFT JOIN u ON u.id = t.id",
        "SELECT a FROM t RIGHT JOIN u ON u.id = t.id",
    ),
    ("SELECT a FROM t ORDER BY a", "SELECT a FROM t ORDER BY b"),
    (
        "SELECT a FROM t ORDER BY a",
        "SELECT a FROM t ORDER BY a DESC",
    ),
    (
        "SELECT a FROM t ORDER BY a, b",
        "SELECT a FROM t ORDER BY b, a",
    ),
    ("SELECT a FROM t", "SELECT DISTINCT a FROM t"),
    ("SELECT a FROM t", "SELECT a FROM t GROUP BY a"),
    ("SELECT a FROM t", "SELECT a FROM t LIMIT 10"),
    (
        "INSERT INTO t (a) VALUES (1)",
        "INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING",
    ),
    (
        "INSERT INTO t (a) VALUES (1)",
        "INSERT INTO t (a) VALUES (1) RETURNING a",
    ),
    ("UPDATE t SET a = 1", "DELETE FROM t WHERE a = 1"),
    ("UPDATE t SET a = 1", "UPDATE t SET b = 1"),
    ("UPDATE t SET a = 1, b = 2", "UPDATE t SET a = 1"),
    (
        "SELECT a FROM t WHERE b = 1",
        "SELECT a FROM t WHERE b IS NULL",
    ),
    (
        "SELECT a FROM t WHERE b IN (1, 2)",
        "SELECT a FROM t WHERE b NOT IN (1, 2)",
    ),
    (
        "SELECT a FROM t WHERE (b = 1 OR c = 2) AND d = 3",
        "SELECT a FROM t WHERE b = 1 OR (c = 2 AND d = 3)",
    ),
    (
        "INSERT INTO t (a, b) VALUES (1, now())",
        "INSERT INTO t (a, b) VALUES (now(), 1)",
    ),
    (
        "SELECT a FROM t WHERE b IN (1, 2)",
        "SELECT a FROM t WHERE b IN (c, 2)",
    ),
    (
        "SELECT a FROM t FOR UPDATE",
        "SELECT a FROM t FOR NO KEY UPDATE",
    ),
    ("VACUUM ANALYZE t", "VACUUM ANALYZE u"),
    ("SELECT \"A\" FROM t", "SELECT a FROM t"),
    ("SAVEPOINT a", "RELEASE SAVEPOINT a"),
];

#[test]
fn equal_across() {
    for (a, b) in SAME {
        let (x, y) = (fp(a), fp(b));
        assert_eq!(
            x.fingerprint, y.fingerprint,
            "\n{a}\n  → {x:?}\n{b}\n  → {y:?}"
        );
    }
}

#[test]
fn different_for() {
    for (a, b) in DIFFERENT {
        let (x, y) = (fp(a), fp(b));
        assert_ne!(
            x.fingerprint, y.fingerprint,
            "\n{a}\n  → {x:?}\n{b}\n  → {y:?}"
        );
    }
}

/// The shapes sqlparser 0.63 rejects or misreads still get a fingerprint
/// from the token-level path, marked as fallback, and literals still do
/// not matter there.
#[test]
fn unparsable_shapes_fall_back() {
    for (sql, same_as) in [
        ("SAVEPOINT $1", "SAVEPOINT x"),
        ("DEALLOCATE $1", "DEALLOCATE q"),
        ("VACUUM ANALYZE t", "vacuum analyze T"),
        ("VACUUM (VERBOSE, ANALYZE) t", "VACUUM (verbose, analyze) t"),
        (
            "REFRESH MATERIALIZED VIEW mv",
            "refresh materialized view mv",
        ),
        (
            "SELECT a FROM t WHERE b = 1 FOR NO KEY UPDATE",
            "SELECT a FROM t WHERE b = $1 FOR NO KEY UPDATE",
        ),
        (
            "SELECT a, count(*) FROM t GROUP BY DISTINCT a",
            "SELECT a, count(*) FROM t GROUP BY DISTINCT a -- c",
        ),
        ("REINDEX TABLE t", "REINDEX TABLE t"),
        (
            "SELECT WHERE 1 IN (1, int4(1), int4(2), 2)",
            "SELECT WHERE $1 IN (1, int4($2), int4($3), $4)",
        ),
        (
            "SELECT WHERE $1 IN ($2 /*, ... */)",
            "SELECT WHERE 1 IN (1, 2, 3)",
        ),
        (
            "SELECT WHERE ($1::int) IN ($2)",
            "SELECT WHERE (1::int) IN (3, 4)",
        ),
    ] {
        let (x, y) = (fp(sql), fp(same_as));
        assert!(x.fallback, "{sql} should use the fallback: {x:?}");
        assert_eq!(
            x.fingerprint, y.fingerprint,
            "\n{sql}\n  → {x:?}\n{same_as}\n  → {y:?}"
        );
    }
    assert!(!fp("SELECT a FROM t WHERE b IN (1)").fallback);
}

/// The query texts pg_stat_statements' own regression outputs show
/// (contrib/pg_stat_statements/expected/{select,squashing,utility}.out).
#[test]
fn pg_stat_statements_texts() {
    let cases = [
        (
            "SELECT * FROM test_squash WHERE id IN ($1 /*, ... */) AND data = $2",
            "SELECT * FROM test_squash WHERE id IN ($1) AND data = $2",
            false,
        ),
        (
            "SELECT * FROM test_squash WHERE id IN ($1 /*, ... */)\n    AND data IN ($2 /*, ... */)",
            "SELECT * FROM test_squash WHERE id IN ($1) AND data IN ($2)",
            false,
        ),
        (
            "SELECT data FROM test_float WHERE data = ANY(ARRAY[$1 /*, ... */])",
            "SELECT data FROM test_float WHERE data = ANY(ARRAY[$1])",
            false,
        ),
        ("SELECT ARRAY[$1 /*, ... */]", "SELECT ARRAY[$1]", false),
        (
            "SELECT WHERE $1 IN ($2 /*, ... */)",
            "SELECT WHERE $1 IN ($2)",
            true,
        ),
        ("SAVEPOINT $1", "SAVEPOINT $1", true),
        ("DEALLOCATE $1", "DEALLOCATE $1", true),
        (
            "SELECT $1 /* comment; inside */ AS \"int\"",
            "SELECT $1 AS \"int\"",
            false,
        ),
        (
            "PREPARE p1(int, int, int, int, int) AS\nSELECT * FROM test_squash WHERE id IN ($1, $2, $3, $4, $5)",
            "PREPARE $1 (int, int, int, int, int) AS SELECT * FROM test_squash WHERE id IN ($2)",
            true,
        ),
        (
            "SELECT $1 AS i UNION SELECT $2 ORDER BY i",
            "SELECT $1 AS i UNION SELECT $2 ORDER BY i",
            false,
        ),
        (
            "SELECT * FROM test_squash_bigint WHERE data IN\n\t($1 /*, ... */)",
            "SELECT * FROM test_squash_bigint WHERE data IN ($1)",
            false,
        ),
        (
            "SELECT * FROM test_squash WHERE id IN\n\t(@ $1, @ $2, @ $3)",
            "SELECT * FROM test_squash WHERE id IN (@ $1, @ $2, @ $3)",
            false,
        ),
    ];
    for (sql, text, fallback) in cases {
        let n = fp(sql);
        assert_eq!(n.text, text, "{sql}");
        assert_eq!(n.fallback, fallback, "{sql}");
    }
    assert_eq!(
        fp("SELECT * FROM test_squash WHERE id IN ($1 /*, ... */)").fingerprint,
        fp("SELECT * FROM test_squash WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)").fingerprint
    );
}

/// normalize(normalize(x)) = normalize(x), and the normalized text still
/// parses whenever the original did.
#[test]
fn round_trip() {
    for (a, b) in SAME.iter().chain(DIFFERENT) {
        for sql in [a, b] {
            let once = fp(sql);
            let twice = fp(&once.text);
            assert_eq!(once, twice, "{sql}");
            let original_parses = sqlparser::parser::Parser::parse_sql(
                &sqlparser::dialect::PostgreSqlDialect {},
                sql,
            )
            .is_ok();
            if original_parses && !once.fallback {
                assert!(
                    sqlparser::parser::Parser::parse_sql(
                        &sqlparser::dialect::PostgreSqlDialect {},
                        &once.text
                    )
                    .is_ok(),
                    "{sql} → {}",
                    once.text
                );
            }
        }
    }
}

#[test]
fn cached_and_parallel_agree_with_one_by_one() {
    let mut sqls: Vec<String> = Vec::new();
    for i in 0..6000 {
        let (a, b) = SAME[i % SAME.len()];
        sqls.push(if i % 2 == 0 {
            a.to_string()
        } else {
            b.replace('1', &(i % 97).to_string())
        });
    }
    let refs: Vec<&str> = sqls.iter().map(String::as_str).collect();
    let one_by_one: Vec<Normalized> = refs.iter().map(|s| fingerprint(s)).collect();
    let mut fpr = Fingerprinter::new();
    assert_eq!(fpr.fingerprint_all(&refs, 4), one_by_one);
    // A second pass is served from the cache and still agrees.
    assert!(fpr.cached() > 0);
    assert_eq!(fpr.fingerprint_all(&refs, 2), one_by_one);
    let mut single = Fingerprinter::new();
    let sequential: Vec<Normalized> = refs.iter().map(|s| single.fingerprint(s)).collect();
    assert_eq!(sequential, one_by_one);
}

/// Generated SQL gets big: long AND/OR chains, huge IN lists, deep
/// nesting. Each still gets its fingerprint, and the equivalences hold.
#[test]
fn big_generated_statements() {
    let chain = |order: &mut dyn Iterator<Item = usize>| {
        let conds: Vec<String> = order.map(|i| format!("c{i} = {i}")).collect();
        format!("SELECT a FROM t WHERE {}", conds.join(" AND "))
    };
    let forward = fp(&chain(&mut (0..5000)));
    let backward = fp(&chain(&mut (0..5000).rev()));
    assert!(!forward.fallback);
    assert_eq!(forward.fingerprint, backward.fingerprint);

    let list: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let big_in = fp(&format!("SELECT a FROM t WHERE b IN ({})", list.join(", ")));
    assert_eq!(big_in.text, "SELECT a FROM t WHERE b IN ($1)");
    assert_eq!(
        big_in.fingerprint,
        fp("SELECT a FROM t WHERE b = 1").fingerprint
    );

    let deep = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let n = fp(&deep);
    assert!(
        n.fallback,
        "sqlparser's recursion limit sends this to the token path"
    );
    assert_eq!(fp(&n.text), n);
}

#[test]
fn fingerprint_prints_as_16_hex_digits() {
    let f = fp("SELECT 1").fingerprint;
    let shown = f.to_string();
    assert_eq!(shown.len(), 16);
    assert_eq!(shown.parse::<Fingerprint>().ok(), Some(f));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let n = fingerprint(&s);
        // Idempotent on anything, parsed or not.
        proptest::prop_assert_eq!(fingerprint(&n.text).text, n.text);
        let _ = split_statements(&s);
    }

    #[test]
    fn sql_like_text_never_panics(s in "(SELECT|INSERT|VALUES|IN|ARRAY|\\(|\\)|\\[|\\]|,|'a'|\\$1|\\$\\$|--|/\\*|\\*/|::|int|-|1|\"q\"|E'\\\\'|;| |\n){0,60}") {
        let n = fingerprint(&s);
        proptest::prop_assert_eq!(fingerprint(&n.text).text, n.text);
        let _ = split_statements(&s);
    }
}
