-- Query texts running right now in this database (literal values included
-- for simple-protocol statements), other than pgadvisor's own sessions.
SELECT query
FROM pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND state = 'active'
  AND backend_type = 'client backend'
  AND query <> ''
