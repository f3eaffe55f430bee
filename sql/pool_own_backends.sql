-- pgadvisor pool: the backends this run opened since $2 (its pg_stat_statements reads), left out of the samples
SELECT pid
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND application_name = $1::text
  AND backend_start >= $2::text::timestamptz
