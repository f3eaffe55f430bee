#!/usr/bin/env bash
# Benchmark of `pgadvisor advise` (docs/advise.md), printed next to its peers:
#
#   1. seed-platform at SCALE (default 1): pgbench TPS with the shipped indexes,
#      with pgadvisor's plan applied, and with the hand-written expert set
#      (bench/expert.sql) -- three copies of one database, measured in one run,
#      plus the number and total size of the app's indexes in each.
#   2. advise wall time on a synthetic workload of 5,000 statements over 200
#      tables (bench/gen_synthetic.py); goal: under 30 s on 2 cores.
#
#   bench/advise.sh                 # SCALE=1 BENCH_SECONDS=20
#   SCALE=0.1 BENCH_SECONDS=5 bench/advise.sh   # quick look
#
# It starts PostgreSQL of its own (scripts/testenv with PGADVISOR_TESTENV_DIR)
# and stops it on exit. Absolute TPS swings with machine load: compare the
# ratios of one run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCALE=${SCALE:-1}
SECS=${BENCH_SECONDS:-20}
CLIENTS=${BENCH_CLIENTS:-2}
OUT=target/bench-advise
mkdir -p "$OUT"
export PGADVISOR_TESTENV_DIR="$PWD/target/bench-env"
scripts/testenv up >/dev/null
trap 'scripts/testenv down >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source "$PGADVISOR_TESTENV_DIR/env.sh"
cargo build --release --quiet
BIN=$PWD/target/release/pgadvisor
PSQL=("$PGADVISOR_TEST_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
dsn() { printf '%s' "${PGADVISOR_TEST_DSN/dbname=postgres/dbname=$1}"; }
sql() { "${PSQL[@]}" -d "$(dsn "$1")" -Atc "$2"; }

ncust=$(python3 -c "print(int(200000*$SCALE))")
nconv=$(python3 -c "print(max(1, int(200000*$SCALE)//2))")
pgbench_args=()
while IFS= read -r line; do
    [[ -n "$line" ]] && pgbench_args+=(-f "fixtures/seed-platform/pgbench/$line")
done < fixtures/seed-platform/weights.txt
run_pgbench() { # db seconds -> tps
    "$PGADVISOR_TEST_PG_BINDIR/pgbench" -n -T "$2" -c "$CLIENTS" -j "$CLIENTS" \
        -D "ncust=$ncust" -D "nconv=$nconv" "${pgbench_args[@]}" "$(dsn "$1")" 2>/dev/null |
        awk '/^tps = /{print $3}'
}
index_stats() { # db -> "count bytes"
    sql "$1" "SELECT count(*), COALESCE(sum(pg_relation_size(i.indexrelid)), 0)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'" | tr '|' ' '
}
mb() { python3 -c "print(f'{$1/1048576:.0f} MB')"; }

echo "== seed-platform at scale $SCALE: loading (this takes a while at scale 1)"
sql postgres "DROP DATABASE IF EXISTS bench_base"
sql postgres "CREATE DATABASE bench_base"
"${PSQL[@]}" -d "$(dsn bench_base)" -f fixtures/seed-platform/schema.sql 2>/dev/null
"${PSQL[@]}" -d "$(dsn bench_base)" -v scale="$SCALE" -f fixtures/seed-platform/data.sql
for db in shipped advise expert; do
    sql postgres "DROP DATABASE IF EXISTS bench_$db"
    sql postgres "CREATE DATABASE bench_$db TEMPLATE bench_base"
done

echo "== advise: the workload runs on bench_advise while pgadvisor samples pg_stat_activity for literals"
run_pgbench bench_advise 15 >/dev/null &
bench_pid=$!
sleep 4
start=$(date +%s.%N)
"$BIN" advise --dsn "$(dsn bench_advise)" --database bench_advise --sample-activity 8s \
    --format json --plan-out "$OUT/plan.yaml" >"$OUT/advice.json"
end=$(date +%s.%N)
wait "$bench_pid"
python3 - "$OUT/advice.json" >"$OUT/apply.sql" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for ix in r["indexes"]:
    print(ix["ddl"] + ";")
for fk in r["foreign_keys"]:
    if fk["ddl"]:
        print(fk["ddl"] + ";")
for d in r["drops"]:
    print(d["ddl"] + ";")
PY
"${PSQL[@]}" -d "$(dsn bench_advise)" -f "$OUT/apply.sql"
"${PSQL[@]}" -d "$(dsn bench_expert)" -f bench/expert.sql
for db in shipped advise expert; do sql "bench_$db" "ANALYZE"; done
sql postgres "CHECKPOINT"

echo "== pgbench: $CLIENTS clients, ${SECS}s per run, interleaved"
declare -A tps
for db in shipped advise expert; do tps[$db]=$(run_pgbench "bench_$db" "$SECS"); done
read -r n_shipped b_shipped < <(index_stats bench_shipped)
read -r n_advise b_advise < <(index_stats bench_advise)
read -r n_expert b_expert < <(index_stats bench_expert)
ratio() { python3 -c "print(f'{$1/$2:.1f}x')"; }
printf '\n%-36s %10s %12s %22s\n' "index set" "TPS" "vs shipped" "app index size (count)"
printf '%-36s %10s %12s %22s\n' "shipped indexes" "${tps[shipped]}" "1.0x" "$(mb "$b_shipped") ($n_shipped)"
printf '%-36s %10s %12s %22s\n' "pgadvisor advise plan" "${tps[advise]}" "$(ratio "${tps[advise]}" "${tps[shipped]}")" "$(mb "$b_advise") ($n_advise)"
printf '%-36s %10s %12s %22s\n' "expert set (bench/expert.sql, peer)" "${tps[expert]}" "$(ratio "${tps[expert]}" "${tps[shipped]}")" "$(mb "$b_expert") ($n_expert)"
printf '\nadvise: %s new indexes, %s drops, %s planner calls, wall %.1f s; advise vs expert TPS: %s\n' \
    "$(python3 -c "import json;print(len(json.load(open('$OUT/advice.json'))['indexes']))")" \
    "$(python3 -c "import json;print(len(json.load(open('$OUT/advice.json'))['drops']))")" \
    "$(python3 -c "import json;print(json.load(open('$OUT/advice.json'))['whatif']['plans'])")" \
    "$(python3 -c "print($end-$start)")" \
    "$(python3 -c "print(f'{${tps[advise]}/${tps[expert]}*100:.0f}%')")"
echo "goal: >= 10x shipped, >= 90% of the expert set's TPS, no more index bytes than the expert set"

echo
echo "== synthetic workload: 5,000 statements over 200 tables"
sql postgres "DROP DATABASE IF EXISTS bench_synth"
sql postgres "CREATE DATABASE bench_synth"
python3 bench/gen_synthetic.py "$OUT/synth"
"${PSQL[@]}" -d "$(dsn bench_synth)" -f "$OUT/synth/schema.sql" >/dev/null
start=$(date +%s.%N)
"$BIN" advise --dsn "$(dsn bench_synth)" --queries "$OUT/synth/queries.sql" --max-indexes 200 --format json >"$OUT/synth-advice.json"
end=$(date +%s.%N)
python3 - "$OUT/synth-advice.json" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"advise on 5,000 statements / 200 tables: {wall:.1f} s wall (goal < 30 s), "
      f"{r['summary']['queries_analyzed']} query shapes, {len(r['indexes'])} indexes, "
      f"{r['whatif']['plans']} plans, {r['whatif']['hypothetical_indexes']} hypothetical indexes")
PY
