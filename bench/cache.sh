#!/usr/bin/env bash
# Benchmark `pgadvisor cache` against the Redis tools, same machine, same run.
#
#  1. inspect: full scan of N mixed keys (bench/cache_keys.py) in a private
#     redis-server vs `redis-cli --memkeys` and `--bigkeys`.
#     Goal: at least 2x faster than --memkeys, while also reporting
#     patterns, TTLs and percentiles.
#  2. warm: N rows from a PostgreSQL table into Redis as JSON values, with a
#     1 h TTL and without, vs `redis-benchmark -P 64 -t set -n N -r N` (the
#     pipelined SET limit). Goal: at least half of that rate, end to end from
#     PostgreSQL. Also shown: redis-benchmark sending warm's own writes (SET
#     of a value of the same size with PX), the server's limit for them.
#
# Needs: redis-server, redis-cli, redis-benchmark, python3, psql, and a
# PostgreSQL to create a scratch database in ($PGADVISOR_TEST_DSN, default
# "host=127.0.0.1 port=5432 user=postgres dbname=postgres").
# Usage: bench/cache.sh [N]      (N defaults to 1000000)
# Everything it creates (redis-server, database, temp files) is removed on exit.
set -euo pipefail

N=${1:-1000000}
cd "$(dirname "$0")/.."
ADMIN_DSN=${PGADVISOR_TEST_DSN:-"host=127.0.0.1 port=5432 user=postgres dbname=postgres"}
PSQL=${PGADVISOR_TEST_PG_BINDIR:+$PGADVISOR_TEST_PG_BINDIR/}psql
DB=pgadvisor_cache_bench_$$
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="redis://127.0.0.1:$PORT/"

cleanup() {
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  "$PSQL" "$ADMIN_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }
# CPU seconds the private redis-server has used so far (utime + stime).
redis_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$REDIS_PID/stat"; }
# measure NAME CMD...: wall seconds, client CPU seconds, redis-server CPU
# seconds of one command, stored in W_NAME, C_NAME, R_NAME. On a shared,
# loaded machine wall time follows CPU share; the CPU figures do not.
measure() {
  local name=$1; shift
  local r0 t0 t1 r1
  r0=$(redis_cpu); t0=$(now)
  /usr/bin/time -f "%U %S" -o "$TMP/time.$name" "$@"
  t1=$(now); r1=$(redis_cpu)
  printf -v "W_$name" '%s' "$(elapsed "$t0" "$t1")"
  printf -v "C_$name" '%s' "$(awk '{print $1 + $2}' "$TMP/time.$name")"
  printf -v "R_$name" '%s' "$(elapsed "$r0" "$r1")"
}

echo "building release binary..."
cargo build --release --quiet
BIN=target/release/pgadvisor

redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --logfile "$TMP/redis.log" --dir "$TMP" >/dev/null
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS_PID=$(redis-cli -p "$PORT" info server | tr -d '\r' | sed -n 's/^process_id://p')

echo "loading $N mixed keys..."
t0=$(now)
python3 bench/cache_keys.py "$N" | redis-cli -p "$PORT" --pipe >/dev/null
t1=$(now)
echo "  loaded $(redis-cli -p "$PORT" dbsize) keys in $(secs "$(elapsed "$t0" "$t1")") s"

echo "inspect (full scan)..."
measure inspect sh -c "\"$BIN\" cache inspect --redis $URL --format json >$TMP/inspect.json"
measure memkeys sh -c "redis-cli -p $PORT --memkeys >$TMP/memkeys.txt 2>&1"
measure bigkeys sh -c "redis-cli -p $PORT --bigkeys >$TMP/bigkeys.txt 2>&1"
PATTERNS=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(len(r['patterns']), r['overall']['keys'])" "$TMP/inspect.json")

echo "warm ($N rows from PostgreSQL)..."
"$PSQL" "$ADMIN_DSN" -qc "CREATE DATABASE $DB" >/dev/null
PG_DSN="$ADMIN_DSN dbname=$DB"
"$PSQL" "$PG_DSN" -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
CREATE TABLE customers (id bigint PRIMARY KEY, tenant_id int NOT NULL, email text, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO customers
SELECT i, i % 50, 'user' || i || '@example.com', CASE WHEN i % 10 = 0 THEN 'churned' ELSE 'active' END,
       timestamptz '2024-01-01' + i * interval '1 minute'
FROM generate_series(1, $N) AS i;
VACUUM ANALYZE customers;
SQL
cat >"$TMP/warm.yaml" <<YAML
entries:
  - name: customers
    query: SELECT id, tenant_id, email, status, created_at FROM customers WHERE id <= \$1
    params: [$N]
    key: "customer:{id}"
    value: json
    ttl: 1h
    ttl_jitter: 10
    batch_size: 5000
YAML
redis-cli -p "$PORT" flushall >/dev/null
measure warm sh -c "\"$BIN\" cache warm $TMP/warm.yaml --dsn '$PG_DSN' --redis $URL --format json >$TMP/warm.json"
T_WARM=$W_warm
WRITTEN=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['entries'][0]['keys_written'])" "$TMP/warm.json")
# One of the values warm wrote: the same size for redis-benchmark's SET PX.
VALUE=$(redis-cli -p "$PORT" get "customer:$((N / 2))")
grep -v '^    ttl' "$TMP/warm.yaml" >"$TMP/warm-nottl.yaml"
redis-cli -p "$PORT" flushall >/dev/null
measure warmnottl sh -c "\"$BIN\" cache warm $TMP/warm-nottl.yaml --dsn '$PG_DSN' --redis $URL --format json >$TMP/warm-nottl.json"
T_NOTTL=$W_warmnottl
WRITTEN_NOTTL=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['entries'][0]['keys_written'])" "$TMP/warm-nottl.json")
rps() { tr '\r' '\n' | grep -E 'requests per second' | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'; }
redis-cli -p "$PORT" flushall >/dev/null
BENCH_RPS=$(redis-benchmark -p "$PORT" -P 64 -t set -n "$N" -r "$N" -q 2>/dev/null | rps)
redis-cli -p "$PORT" flushall >/dev/null
BENCH_PX_RPS=$(redis-benchmark -p "$PORT" -P 64 -n "$N" -r "$N" -q SET 'customer:__rand_int__' "$VALUE" PX 3600000 2>/dev/null | rps)

python3 - "$N" "$W_inspect" "$W_memkeys" "$W_bigkeys" "$PATTERNS" "$WRITTEN" "$T_WARM" "$WRITTEN_NOTTL" "$T_NOTTL" "$BENCH_RPS" "$BENCH_PX_RPS" "${#VALUE}" \
  "$C_inspect $R_inspect $C_memkeys $R_memkeys $C_bigkeys $R_bigkeys $C_warm $R_warm $C_warmnottl $R_warmnottl" "$(uptime | sed 's/.*load average: //')" <<'PY'
import sys
n, ti, tm, tb, pats, written, tw, written2, tw2, brps, bpxrps, vlen, cpu, load = sys.argv[1:]
ti, tm, tb, tw, tw2, brps, bpxrps = map(float, (ti, tm, tb, tw, tw2, brps, bpxrps))
wrps, wrps2 = int(written) / tw, int(written2) / tw2
ci, ri, cm, rm, cb, rb, cw, rw, cw2, rw2 = map(float, cpu.split())
npat, nkeys = pats.split()
print()
print(f"load average at the end: {load} (wall times follow CPU share on a loaded machine)")
print()
print(f"cache inspect, {int(n):,} mixed keys (same run):     wall    client CPU   redis-server CPU")
print(f"  pgadvisor cache inspect   {ti:6.2f} s   {ci:6.2f} s    {ri:6.2f} s   {npat} patterns, TTL buckets, size percentiles, top keys ({int(nkeys):,} keys)")
print(f"  redis-cli --memkeys       {tm:6.2f} s   {cm:6.2f} s    {rm:6.2f} s   ({tm/ti:.1f}x pgadvisor's wall time; goal >= 2x)")
print(f"  redis-cli --bigkeys       {tb:6.2f} s   {cb:6.2f} s    {rb:6.2f} s   ({tb/ti:.1f}x)")
print()
print(f"cache warm, {int(n):,} rows from PostgreSQL as {vlen}-byte JSON values (same run):")
print(f"  pgadvisor cache warm, no TTL  {tw2:6.2f} s   {wrps2:,.0f} keys/s end to end (client CPU {cw2:.2f} s, redis-server CPU {rw2:.2f} s)")
print(f"  pgadvisor cache warm, ttl 1h  {tw:6.2f} s   {wrps:,.0f} keys/s end to end (client CPU {cw:.2f} s, redis-server CPU {rw:.2f} s)")
print(f"  redis-benchmark -P 64 -t set  {int(n)/brps:6.2f} s   {brps:,.0f} requests/s (3-byte values, no TTL)")
print(f"  redis-benchmark -P 64 SET PX  {int(n)/bpxrps:6.2f} s   {bpxrps:,.0f} requests/s (warm's own writes: {vlen}-byte values, PX)")
print(f"  ratio to -t set: no TTL {wrps2/brps:.2f}, ttl 1h {wrps/brps:.2f} (goal >= 0.50); ttl 1h to SET PX {wrps/bpxrps:.2f}")
PY
