-- Template: drop an invalid leftover of an interrupted build. {index} is a
-- quoted, schema-qualified name (crate::ident), never user text.
DROP INDEX CONCURRENTLY IF EXISTS {index}
