-- Template: as apply_explain.sql for a query with $n placeholders (PostgreSQL 16+).
EXPLAIN (GENERIC_PLAN, FORMAT JSON) {query}
