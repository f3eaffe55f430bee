-- Template: refresh planner statistics after a build. {table} is a quoted,
-- schema-qualified name (crate::ident).
ANALYZE {table}
