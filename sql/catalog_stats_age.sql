-- How long the usage counters have been collecting: since the database's
-- statistics were last reset, or since the server started if never.
SELECT COALESCE(d.stats_reset, pg_postmaster_start_time())::text                  AS since,
       EXTRACT(EPOCH FROM now() - COALESCE(d.stats_reset, pg_postmaster_start_time()))::float8 AS age_seconds,
       current_setting('server_version_num')::int4                                AS server_version_num,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg')                AS has_hypopg,
       current_setting('search_path')                                             AS search_path
FROM pg_stat_database d
WHERE d.datname = current_database()
