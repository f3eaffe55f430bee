#!/usr/bin/env python3
"""Emit RESP commands for `redis-cli --pipe`: N keys of mixed shapes, the
way an application's cache looks (deterministic: same N, same keys).

  40% customer:{id}         string, JSON ~120 B, TTL 1 h
  20% churn:{id}            hash of 3 fields, TTL 30 min
  12% session:{uuid}        string, no TTL
  10% cache:sql:{hash}      string ~300 B, TTL 5 min
   8% report:{date}:{id}    string, TTL 1 day+
   5% queue:{id}            list of 10
   3% tags:{id}             set of 8
   2% leaderboard:{id}      zset of 20
"""
import sys, hashlib, uuid

def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    w = sys.stdout.buffer
    buf = []
    for i in range(n):
        r = i % 100
        if r < 40:
            v = '{"id":%d,"tenant_id":%d,"email":"user%d@example.com","status":"active","department":"dept-%d"}' % (i, i % 50, i, i % 10)
            buf.append(resp("SET", "customer:%d" % i, v, "EX", 3600))
        elif r < 60:
            k = "churn:%d" % i
            buf.append(resp("HSET", k, "score", "0.%03d" % (i % 1000), "confidence", "0.5", "model", "v3"))
            buf.append(resp("EXPIRE", k, 1800))
        elif r < 72:
            u = uuid.UUID(int=(i * 2654435761) % (1 << 128), version=4)
            buf.append(resp("SET", "session:%s" % u, "user=%d;roles=admin,editor" % i))
        elif r < 82:
            h = hashlib.md5(str(i).encode()).hexdigest()
            buf.append(resp("SET", "cache:sql:%s" % h, "x" * 300, "EX", 300))
        elif r < 90:
            d = "2024-%02d-%02d" % (1 + i % 12, 1 + i % 28)
            buf.append(resp("SET", "report:%s:%d" % (d, i), "rows=%d" % i, "EX", 90000))
        elif r < 95:
            buf.append(resp("RPUSH", "queue:%d" % i, *["job-%d" % j for j in range(10)]))
        elif r < 98:
            buf.append(resp("SADD", "tags:%d" % i, *["t%d" % j for j in range(8)]))
        else:
            args = []
            for j in range(20):
                args += [j, "player-%d" % j]
            buf.append(resp("ZADD", "leaderboard:%d" % i, *args))
        if len(buf) >= 10000:
            w.write(b"".join(buf))
            buf = []
    w.write(b"".join(buf))

main()
