-- cache warm, JSON encoding: the spec's query wrapped so PostgreSQL renders
-- each row as one JSON object (column order kept) and the key columns as
-- text. {key_columns} = `, q."col"::text` per key column; {query} = the
-- entry's query, its $n parameters bound by the caller.
SELECT row_to_json(q)::text{key_columns} FROM ({query}) AS q
