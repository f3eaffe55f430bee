-- Every index on a user table ($1: NULL), or on one table ($1: its oid, for
-- apply's per-action checks): key columns (or expressions) in order with
-- their sort options, INCLUDE columns, predicate, the constraint behind it,
-- validity and usage since the statistics were reset.
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
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%'
  AND ($1::int8 IS NULL OR i.indrelid = $1::int8::oid)
ORDER BY 1, 3
