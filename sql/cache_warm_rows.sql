-- cache warm: the spec's query wrapped to fetch each column in the form the
-- client renders cheaply and exactly (src/cache/warm/row.rs). {columns} =
-- per column `q."col"` (integers, booleans, text, json in binary),
-- `to_json(q."col")::text` (other types, JSON values) or `q."col"::text`
-- (hash fields and key text); {query} = the entry's query, its $n
-- parameters bound by the caller.
SELECT {columns} FROM ({query}) AS q
