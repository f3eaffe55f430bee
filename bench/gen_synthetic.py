#!/usr/bin/env python3
"""A synthetic advise workload: 200 tables, 5,000 statements (deterministic).

Each table has an id, a foreign-key-like column, a low-cardinality status, a
timestamp and a few payload columns, with 2,000 rows so the planner has
statistics. Statements are OLTP lookups by one or two columns, ranges with
ORDER BY ... LIMIT, joins to a parent table, updates and inserts, with
literal values (so fingerprints fold them into shapes).
"""
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rnd = random.Random(42)
N_TABLES, N_STATEMENTS, ROWS = 200, 5000, 2000

with open(os.path.join(out, "schema.sql"), "w") as f:
    f.write("CREATE SCHEMA IF NOT EXISTS synth;\nSET search_path = synth;\n")
    for t in range(N_TABLES):
        f.write(
            f"CREATE TABLE t{t} (id bigint PRIMARY KEY, parent_id bigint, account_id int, "
            f"status text, kind int, created_at timestamptz, amount numeric, note text);\n"
            f"INSERT INTO t{t} SELECT i, i % 97, i % 301, (ARRAY['new','open','done','void'])[1 + i % 4], "
            f"i % 13, timestamptz '2025-01-01' + i * interval '1 hour', i * 1.5, md5(i::text) "
            f"FROM generate_series(1, {ROWS}) i;\n"
        )
    f.write("ANALYZE;\n")

shapes = [
    "SELECT * FROM synth.t{t} WHERE account_id = {a}",
    "SELECT id, amount FROM synth.t{t} WHERE parent_id = {p} AND status = '{s}'",
    "SELECT id FROM synth.t{t} WHERE account_id = {a} ORDER BY created_at DESC LIMIT 20",
    "SELECT count(*) FROM synth.t{t} WHERE kind = {k} AND created_at > timestamptz '2025-02-01'",
    "SELECT a.id, b.note FROM synth.t{t} a JOIN synth.t{u} b ON b.parent_id = a.id WHERE a.account_id = {a}",
    "UPDATE synth.t{t} SET amount = amount + 1 WHERE parent_id = {p}",
    "INSERT INTO synth.t{t} (id, parent_id, account_id, status, kind, created_at, amount, note) "
    "VALUES ({i}, {p}, {a}, '{s}', {k}, now(), 1, 'x')",
    "SELECT note FROM synth.t{t} WHERE status = '{s}' AND amount > {m} ORDER BY amount LIMIT 5",
]
with open(os.path.join(out, "queries.sql"), "w") as f:
    for n in range(N_STATEMENTS):
        t = rnd.randrange(N_TABLES)
        sql = rnd.choice(shapes).format(
            t=t, u=(t + 1) % N_TABLES, a=rnd.randrange(301), p=rnd.randrange(97),
            s=rnd.choice(["new", "open", "done", "void"]), k=rnd.randrange(13),
            m=rnd.randrange(3000), i=ROWS + 1 + n,
        )
        f.write(sql + ";\n")
