-- Template: re-plan one evidence query (never executed: no ANALYZE option).
-- {query} is a single statement from the plan, sent with the extended
-- protocol so it cannot carry a second one.
EXPLAIN (FORMAT JSON) {query}
