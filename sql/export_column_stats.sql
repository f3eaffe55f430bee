-- Column statistics for offline advice (`pgadvisor advise --schema FILE
-- --column-stats FILE`): every user table's row estimate and its columns'
-- pg_stats rows, as one JSON document. Run it where the data lives:
--   psql -XAtq -d "$DSN" -f sql/export_column_stats.sql > column-stats.json
-- Needs pg_read_all_stats (or table ownership) to see every column.
SELECT json_build_object(
         'format', 'pgadvisor-column-stats/1',
         'server_version', current_setting('server_version'),
         'tables', COALESCE(json_agg(t ORDER BY t.schema, t.name), '[]'::json))
FROM (
  SELECT n.nspname::text AS schema,
         c.relname::text AS name,
         c.reltuples::float8 AS reltuples,
         COALESCE((
           SELECT json_agg(json_build_object(
                    'name', s.attname,
                    'null_frac', s.null_frac,
                    'n_distinct', s.n_distinct,
                    'avg_width', s.avg_width,
                    'correlation', s.correlation,
                    'most_common_vals', s.most_common_vals::text::text[],
                    'most_common_freqs', s.most_common_freqs) ORDER BY s.attname)
           FROM pg_stats s
           WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited),
           '[]'::json) AS columns
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'm')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg_temp%'
) AS t;
