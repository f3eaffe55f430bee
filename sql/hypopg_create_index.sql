-- Create one hypothetical index (HypoPG); the CREATE INDEX text is a bind parameter.
SELECT indexrelid::int8 AS oid, indexname::text AS name FROM hypopg_create_index($1)
