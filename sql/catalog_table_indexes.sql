-- Every index on one table ($1: its oid), read exactly as
-- sql/catalog_indexes.sql reads every index (same columns, parsed by the same
-- code), for apply's per-action checks: keys with their sort options,
-- INCLUDE columns, predicate, uniqueness, validity.
SELECT i.indrelid::int8                                  AS table_oid,
       n.nspname::text                                   AS schema,
       ic.relname::text                                  AS name,
       am.amname::text                                   AS method,
       i.indisunique                                     AS is_unique,
       i.indisprimary                                    AS is_primary,
       i.indisvalid                                      AS is_valid,
       i.indisready                                      AS is_ready,
       i.indnkeyatts::int4                               AS n_key,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS column_defs,
       ARRAY(SELECT (i.indoption[k - 1] & 1) = 1
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,
       ARRAY(SELECT (i.indoption[k - 1] & 2) = 2
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS nulls_first,
       pg_get_expr(i.indpred, i.indrelid, true)          AS predicate,
       con.conname::text                                 AS constraint_name,
       con.contype::text                                 AS constraint_type,
       pg_get_indexdef(i.indexrelid)                     AS definition,
       pg_relation_size(i.indexrelid)::int8              AS size_bytes,
       COALESCE(s.idx_scan, 0)::int8                     AS idx_scan
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE i.indrelid = $1::int8::oid
ORDER BY 3
