-- One index by schema and name: its table, validity, whether a constraint
-- depends on it, and whether the current role may drop it (owner only).
SELECT tn.nspname::text                               AS table_schema,
       t.relname::text                                AS table_name,
       am.amname::text                                AS method,
       i.indisvalid                                   AS is_valid,
       i.indisready                                   AS is_ready,
       EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid) AS backs_constraint,
       pg_has_role(current_user, ic.relowner, 'USAGE') AS may_drop,
       pg_relation_size(i.indexrelid)::int8           AS size_bytes
FROM pg_class ic
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_index i ON i.indexrelid = ic.oid
JOIN pg_am am ON am.oid = ic.relam
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE n.nspname = $1 AND ic.relname = $2
