-- Ordinary and partitioned tables outside the system schemas, with size,
-- row estimate and write activity (pg_stat_user_tables).
SELECT n.nspname::text                         AS schema,
       c.relname::text                         AS name,
       c.oid::int8                             AS oid,
       c.relkind::text                         AS kind,
       c.reltuples::float8                     AS reltuples,
       c.relpages::int8                        AS relpages,
       pg_total_relation_size(c.oid)::int8     AS total_bytes,
       pg_relation_size(c.oid)::int8           AS heap_bytes,
       COALESCE(s.seq_scan, 0)::int8           AS seq_scan,
       COALESCE(s.idx_scan, 0)::int8           AS idx_scan,
       COALESCE(s.n_tup_ins, 0)::int8          AS n_tup_ins,
       COALESCE(s.n_tup_upd, 0)::int8          AS n_tup_upd,
       COALESCE(s.n_tup_del, 0)::int8          AS n_tup_del,
       COALESCE(s.n_tup_hot_upd, 0)::int8      AS n_tup_hot_upd,
       COALESCE(s.n_live_tup, 0)::int8         AS n_live_tup
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%'
  AND n.nspname NOT LIKE 'pg_toast_temp%'
ORDER BY 1, 2
