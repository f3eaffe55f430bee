-- Who keeps a build waiting: the sessions pg_blocking_pids names, with what
-- a DBA needs to decide (application, state, transaction age, query).
SELECT a.pid,
       COALESCE(a.application_name, '')::text                       AS application,
       COALESCE(a.state, '')::text                                  AS state,
       EXTRACT(epoch FROM now() - COALESCE(a.xact_start, a.query_start, a.backend_start))::float8 AS age_seconds,
       COALESCE(a.query, '')::text                                  AS query
FROM pg_stat_activity a
WHERE a.pid = ANY(pg_blocking_pids($1::int4))
ORDER BY a.pid
