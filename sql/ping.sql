-- pgadvisor ping: who and where we are, and whether this session is encrypted.
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_user::text AS "user",
       current_database()::text AS database,
       current_setting('application_name') AS application_name,
       coalesce(s.ssl, false) AS ssl,
       s.version AS tls_version,
       s.cipher AS tls_cipher
FROM (SELECT 1) AS one
LEFT JOIN pg_stat_ssl AS s ON s.pid = pg_backend_pid();
