-- Every index on one table, with what apply compares to a planned
-- definition: method, keys as pg_get_indexdef prints them, sort options,
-- INCLUDE columns, predicate, uniqueness and validity.
SELECT n.nspname::text                                   AS schema,
       ic.relname::text                                  AS name,
       am.amname::text                                   AS method,
       i.indisunique                                     AS is_unique,
       i.indisvalid                                      AS is_valid,
       i.indisready                                      AS is_ready,
       i.indnkeyatts::int4                               AS n_key,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS column_defs,
       ARRAY(SELECT (i.indoption[k - 1] & 1) = 1
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,
       pg_get_expr(i.indpred, i.indrelid, true)          AS predicate,
       pg_get_indexdef(i.indexrelid)                     AS definition,
       pg_relation_size(i.indexrelid)::int8              AS size_bytes
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = $1::int8::oid
ORDER BY ic.relname
