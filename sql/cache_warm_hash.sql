-- cache warm, hash encoding: every column of the spec's query as text
-- (one hash field each). {columns} = `q."col"::text` per column.
SELECT {columns} FROM ({query}) AS q
