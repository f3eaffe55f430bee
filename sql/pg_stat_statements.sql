-- Every pg_stat_statements row as one JSON object, plus role and database
-- names. to_jsonb(s) keeps each server version's own column names
-- (PostgreSQL 12's total_time, 13-16's blk_read_time, 17's
-- shared_blk_read_time, 18's additions), which pgadvisor maps in one place
-- (src/intake/columns.rs), so one statement serves every version.
SELECT to_jsonb(s) AS stat,
       r.rolname::text AS username,
       d.datname::text AS datname
FROM pg_stat_statements s
LEFT JOIN pg_roles r ON r.oid = s.userid
LEFT JOIN pg_database d ON d.oid = s.dbid
