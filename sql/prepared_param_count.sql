-- Number of parameters PostgreSQL inferred for a prepared statement.
SELECT cardinality(parameter_types)::int4 FROM pg_prepared_statements WHERE name = $1
