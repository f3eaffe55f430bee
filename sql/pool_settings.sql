-- pgadvisor pool: connection limits and what this role may see of pg_stat_activity
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
       (SELECT setting::int FROM pg_settings WHERE name = 'reserved_connections') AS reserved_connections,
       current_setting('max_worker_processes')::int AS max_worker_processes,
       current_setting('max_wal_senders')::int AS max_wal_senders,
       current_setting('autovacuum_max_workers')::int AS autovacuum_max_workers,
       current_setting('idle_in_transaction_session_timeout') AS idle_in_transaction_session_timeout,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       current_user::text AS role
