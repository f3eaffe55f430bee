-- Estimated size in bytes of a hypothetical index.
SELECT hypopg_relation_size($1::oid)::int8
