#!/usr/bin/env python3
"""Deterministic corpus of realistic SQL statements for the fingerprint benchmark.

usage: gen_corpus.py [N] > corpus.sql      (N defaults to 100000)

Statements are `;`-terminated, one or more lines each. The mix follows what
application workloads send: OLTP point selects and joins, IN lists of 1-500
items, multi-row inserts, upserts, CTEs, window functions, reporting queries
up to ~10 KB, sqlcommenter tags, and SET / SAVEPOINT / VACUUM / transaction
control; a share is in pg_stat_statements' `$n` form. A few thousand query
shapes, Zipf-distributed so the top ~100 shapes carry most statements. The
same N always gives the same bytes (fixed seed, no clock, no hash order).
"""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rng = random.Random(20240601)

TABLES = {
    "users": ["id", "email", "name", "created_at", "status", "org_id", "last_login_at", "plan"],
    "orgs": ["id", "name", "created_at", "plan", "owner_id", "region"],
    "orders": ["id", "user_id", "org_id", "total_cents", "status", "created_at", "shipped_at", "currency"],
    "order_items": ["id", "order_id", "product_id", "quantity", "price_cents", "discount_cents"],
    "products": ["id", "sku", "name", "price_cents", "category_id", "stock", "active", "updated_at"],
    "categories": ["id", "name", "parent_id", "slug"],
    "sessions": ["id", "user_id", "token", "expires_at", "ip", "user_agent"],
    "events": ["id", "user_id", "kind", "payload", "created_at", "source"],
    "invoices": ["id", "org_id", "amount_cents", "due_at", "paid_at", "status"],
    "payments": ["id", "invoice_id", "amount_cents", "provider", "created_at", "state"],
    "comments": ["id", "post_id", "user_id", "body", "created_at", "deleted_at"],
    "posts": ["id", "author_id", "title", "body", "published_at", "slug", "views"],
    "tags": ["id", "name", "slug"],
    "post_tags": ["post_id", "tag_id"],
    "audit_log": ["id", "actor_id", "action", "target", "created_at", "details"],
    "jobs": ["id", "queue", "state", "run_at", "attempts", "payload", "locked_by"],
}
JOINS = [
    ("orders", "users", "user_id", "id"),
    ("order_items", "orders", "order_id", "id"),
    ("order_items", "products", "product_id", "id"),
    ("products", "categories", "category_id", "id"),
    ("users", "orgs", "org_id", "id"),
    ("sessions", "users", "user_id", "id"),
    ("events", "users", "user_id", "id"),
    ("invoices", "orgs", "org_id", "id"),
    ("payments", "invoices", "invoice_id", "id"),
    ("comments", "posts", "post_id", "id"),
    ("posts", "users", "author_id", "id"),
    ("post_tags", "tags", "tag_id", "id"),
]
STATUSES = ["active", "pending", "paid", "shipped", "cancelled", "failed", "done", "queued"]
WORDS = ["alpha", "bravo", "O'Reilly", "semi;colon", "x--y", "/*not a comment*/", "naïve", "data"]


def lit(col):
    """A literal that fits the column name."""
    if col.endswith("_at"):
        return "'2024-%02d-%02d %02d:%02d:00'" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))
    if col in ("status", "state", "plan", "kind", "queue", "provider", "region", "currency", "action", "source"):
        return "'%s'" % rng.choice(STATUSES)
    if col in ("email",):
        return "'user%d@example.com'" % rng.randint(1, 10**6)
    if col in ("name", "title", "body", "slug", "sku", "token", "target", "user_agent", "ip", "details", "payload", "locked_by"):
        return "'%s'" % rng.choice(WORDS).replace("'", "''")
    if col == "active":
        return rng.choice(["true", "false"])
    return str(rng.randint(1, 10**7))


def param_or_lit(col, n, dollar):
    return ("$%d" % n) if dollar else lit(col)


def make_shapes():
    """Each shape is a function (dollar: bool) -> SQL text."""
    shapes = []
    rare = set()  # indexes of shapes drawn 10x less often (the big reports)
    r = random.Random(7)
    names = sorted(TABLES)
    # OLTP point selects: table x column subset x filter column.
    for t in names:
        cols = TABLES[t]
        for k in range(12):
            sel = sorted(r.sample(cols, r.randint(1, len(cols))), key=cols.index)
            where = r.sample(cols, r.randint(1, 2))
            order = r.choice([None, cols[0], cols[-1]])
            limit = r.choice([None, None, 1, 20])
            star = r.random() < 0.15

            def f(d, t=t, sel=sel, where=where, order=order, limit=limit, star=star):
                conds = " AND ".join("%s = %s" % (c, param_or_lit(c, i + 1, d)) for i, c in enumerate(where))
                s = "SELECT %s FROM %s WHERE %s" % ("*" if star else ", ".join(sel), t, conds)
                if order:
                    s += " ORDER BY %s DESC" % order
                if limit:
                    s += " LIMIT %d" % limit
                return s
            shapes.append(f)
    # IN lists (1-500 items).
    for t in names:
        cols = TABLES[t]
        for c in cols[:3]:
            def f(d, t=t, c=c, cols=cols):
                n = rng.choice([1, 2, 3, 5, 10, 20, 50, 100, 200, 500])
                if d and rng.random() < 0.5:
                    items = "$1 /*, ... */"
                else:
                    items = ", ".join(lit(c) for _ in range(n))
                return "SELECT %s FROM %s WHERE %s IN (%s)" % (", ".join(cols[:4]), t, c, items)
            shapes.append(f)
    # Joins.
    for (a, b, fk, pk) in JOINS:
        for k in range(20):
            ca = r.sample(TABLES[a], min(3, len(TABLES[a])))
            cb = r.sample(TABLES[b], min(2, len(TABLES[b])))
            filt = r.choice(TABLES[a])
            kind = r.choice(["JOIN", "LEFT JOIN", "INNER JOIN"])
            lim = r.choice([10, 50, 100])

            def f(d, a=a, b=b, fk=fk, pk=pk, ca=ca, cb=cb, filt=filt, kind=kind, lim=lim):
                cols = ", ".join(["x.%s" % c for c in ca] + ["y.%s AS %s_%s" % (c, b, c) for c in cb])
                return ("SELECT %s\n  FROM %s x\n  %s %s y ON y.%s = x.%s\n WHERE x.%s = %s\n   AND x.id > %s\n ORDER BY x.id\n LIMIT %d"
                        % (cols, a, kind, b, pk, fk, filt, param_or_lit(filt, 1, d), param_or_lit("id", 2, d), lim))
            shapes.append(f)
    # Multi-row inserts and upserts.
    for t in names:
        cols = [c for c in TABLES[t] if c != "id"]
        for k in range(6):
            ic = r.sample(cols, r.randint(1, len(cols)))
            upsert = k % 2 == 1

            def f(d, t=t, ic=ic, upsert=upsert):
                rows = rng.choice([1, 1, 1, 2, 5, 10, 50])
                vals = ", ".join("(%s)" % ", ".join(lit(c) for c in ic) for _ in range(rows))
                s = "INSERT INTO %s (%s) VALUES %s" % (t, ", ".join(ic), vals)
                if upsert:
                    s += " ON CONFLICT (id) DO UPDATE SET %s RETURNING id" % ", ".join("%s = EXCLUDED.%s" % (c, c) for c in ic[:2])
                return s
            shapes.append(f)
    # Updates and deletes.
    for t in names:
        cols = TABLES[t]
        for k in range(4):
            sc = r.sample(cols[1:], min(2, len(cols) - 1))

            def f(d, t=t, sc=sc):
                sets = ", ".join("%s = %s" % (c, param_or_lit(c, i + 1, d)) for i, c in enumerate(sc))
                return "UPDATE %s SET %s WHERE id = %s" % (t, sets, param_or_lit("id", len(sc) + 1, d))
            shapes.append(f)
        shapes.append(lambda d, t=t: "DELETE FROM %s WHERE id = %s RETURNING *" % (t, param_or_lit("id", 1, d)))
    # CTEs and window functions.
    for (a, b, fk, pk) in JOINS:
        for k in range(8):
            part = r.choice(TABLES[a])

            def f(d, a=a, b=b, fk=fk, pk=pk, part=part):
                return ("WITH recent AS (\n  SELECT * FROM %s WHERE id > %s\n), ranked AS (\n"
                        "  SELECT r.*, row_number() OVER (PARTITION BY r.%s ORDER BY r.id DESC) AS rn,\n"
                        "         sum(r.id) OVER (PARTITION BY r.%s) AS total\n  FROM recent r\n)\n"
                        "SELECT ranked.*, y.* FROM ranked JOIN %s y ON y.%s = ranked.%s WHERE rn <= %s"
                        % (a, param_or_lit("id", 1, d), part, fk, b, pk, fk, param_or_lit("id", 2, d)))
            shapes.append(f)
    # Reporting queries, up to ~10 KB.
    for k in range(200):
        t = names[k % len(names)]
        cols = TABLES[t]
        width = 5 + (k * 7) % 60

        def f(d, t=t, cols=cols, width=width, k=k):
            items = []
            for i in range(width):
                c = cols[i % len(cols)]
                items.append("  sum(CASE WHEN %s = %s THEN 1 ELSE 0 END) AS m_%d_%d" % (c, lit(c), k, i))
                items.append("  count(DISTINCT %s) FILTER (WHERE id > %s) AS d_%d_%d" % (c, lit("id"), k, i))
            return ("-- report %d\nSELECT date_trunc('day', %s) AS day,\n%s\nFROM %s\nWHERE %s >= %s AND %s < %s\nGROUP BY 1\nORDER BY 1 DESC"
                    % (k, cols[0], ",\n".join(items), t, cols[0], lit("created_at"), cols[0], lit("created_at")))
        rare.add(len(shapes))
        shapes.append(f)
    # Utility statements.
    utility = [
        lambda d: "BEGIN",
        lambda d: "COMMIT",
        lambda d: "ROLLBACK",
        lambda d: "SET statement_timeout = '%ds'" % rng.randint(1, 60),
        lambda d: "SET LOCAL lock_timeout = '%dms'" % rng.randint(10, 5000),
        lambda d: "SAVEPOINT sp_%d" % rng.randint(1, 100) if not d else "SAVEPOINT $1",
        lambda d: "RELEASE SAVEPOINT sp_%d" % rng.randint(1, 100),
        lambda d: "VACUUM ANALYZE %s" % rng.choice(names),
        lambda d: "VACUUM (VERBOSE, ANALYZE) %s" % rng.choice(names),
        lambda d: "DEALLOCATE $1" if d else "DEALLOCATE p%d" % rng.randint(1, 50),
        lambda d: "SELECT * FROM jobs WHERE state = 'queued' ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        lambda d: "SELECT pg_advisory_xact_lock(%s)" % lit("id"),
        lambda d: "SHOW search_path",
    ]
    return shapes, utility, rare


COMMENTERS = [
    "/*controller='users',action='show',framework='rails'*/",
    "/*application='api',route='/orders/:id',traceparent='00-%032x-%016x-01'*/",
    "/*db_driver='psycopg',file='app/models.py'*/",
]


def main():
    shapes, utility, rare = make_shapes()
    # Zipf-ish weights: shape i gets 1/(i+1)^0.9 after a fixed shuffle.
    order = list(range(len(shapes)))
    random.Random(11).shuffle(order)
    weights = [0.0] * len(shapes)
    for rank, i in enumerate(order):
        weights[i] = 1.0 / (rank + 1) ** 0.9 * (0.1 if i in rare else 1.0)
    out = sys.stdout
    picks = rng.choices(range(len(shapes)), weights=weights, k=N)
    for n, i in enumerate(picks):
        if rng.random() < 0.06:
            sql = rng.choice(utility)(rng.random() < 0.3)
        else:
            sql = shapes[i](rng.random() < 0.25)
        if rng.random() < 0.1:
            sql = sql.lower() if rng.random() < 0.5 else sql.replace(" ", "  ")
        if rng.random() < 0.2:
            c = rng.choice(COMMENTERS)
            if "%032x" in c:
                c = c % (rng.getrandbits(128), rng.getrandbits(64))
            sql = sql + " " + c
        out.write(sql)
        out.write(";\n")


if __name__ == "__main__":
    main()
