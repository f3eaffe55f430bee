-- Session setting for a build connection (lock_timeout, statement_timeout,
-- maintenance_work_mem, ...), bound as parameters rather than spliced into SET.
SELECT set_config($1, $2, false)
