-- Ctrl-C: cancel a running build on the server (it leaves an INVALID index, which apply then drops).
SELECT pg_cancel_backend($1::int4)
