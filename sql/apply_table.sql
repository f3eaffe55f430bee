-- The table an action works on: whether it exists, whether the current role
-- may build indexes on it (only the owner, or a member of the owning role,
-- can), and its live column names.
SELECT c.oid::int8                                 AS oid,
       c.relkind::text                             AS relkind,
       pg_get_userbyid(c.relowner)::text           AS owner,
       pg_has_role(current_user, c.relowner, 'USAGE') AS may_index,
       ARRAY(SELECT a.attname::text
             FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)                    AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
  AND c.relkind IN ('r', 'p', 'm')
