-- The build connection's server process, for progress, blockers and cancel.
SELECT pg_backend_pid()
