-- Why pg_stat_statements can or cannot be read here (pgadvisor intake).
-- Safe for any role: pg_settings hides shared_preload_libraries from roles
-- without pg_read_all_settings (preload is then NULL = unknown).
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_database()::text AS database,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available,
       (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       current_user::text AS role,
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS captured_at
