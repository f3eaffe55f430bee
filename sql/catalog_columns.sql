-- Columns of user tables with their planner statistics (pg_stats), the
-- inputs to selectivity estimates. Arrays are returned as text[] so no
-- type-specific decoding is needed.
SELECT c.oid::int8                                      AS table_oid,
       a.attnum::int4                                   AS attnum,
       a.attname::text                                  AS name,
       format_type(a.atttypid, a.atttypmod)             AS type_name,
       a.attnotnull                                     AS not_null,
       st.null_frac::float8                             AS null_frac,
       st.n_distinct::float8                            AS n_distinct,
       st.avg_width::int4                               AS avg_width,
       st.correlation::float8                           AS correlation,
       st.most_common_vals::text::text[]                AS mcv,
       st.most_common_freqs::float8[]                   AS mcf
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname
                     AND st.attname = a.attname AND NOT st.inherited
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1, 2
