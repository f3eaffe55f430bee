-- EXPLAIN ANALYZE runs in a read-only transaction that is always rolled
-- back; the timeout bounds each statement (set with set_config(..., true)).
SELECT set_config('statement_timeout', $1, true)
