-- pgadvisor pool: one sample of pg_stat_activity (every backend but this run's own: this one and $1)
SELECT pid,
       coalesce(backend_type, '') AS backend_type,
       state,
       coalesce(application_name, '') AS application_name,
       usename::text AS usename,
       datname::text AS datname,
       host(client_addr) AS client_addr,
       wait_event_type,
       wait_event,
       extract(epoch FROM now() - state_change)::float8 AS state_age_s,
       extract(epoch FROM now() - xact_start)::float8 AS xact_age_s,
       CASE WHEN state LIKE 'idle in transaction%' THEN left(query, 1000) END AS query
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND pid <> ALL ($1::int4[])
