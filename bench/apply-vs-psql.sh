#!/usr/bin/env bash
# Wall time of `pgadvisor apply` for the seed-platform plan against the same
# CREATE INDEX CONCURRENTLY statements run one by one through psql, on
# identical fresh copies of one database (CREATE DATABASE … TEMPLATE).
#
#   bench/apply-vs-psql.sh [scale] [rounds]      (defaults: 0.25, 3)
#
# Needs PGADVISOR_TEST_DSN (a superuser on PostgreSQL 12+) and
# PGADVISOR_TEST_PG_BINDIR (psql); `scripts/testenv up && source target/testenv/env.sh`.
# PGADVISOR_BIN picks the binary (default: target/release/pgadvisor, built
# if missing). Goals (issue 5): serial apply within 5% of psql; --jobs 2
# faster than psql where tables differ. Rounds alternate the contenders so
# machine load hits them alike; the median of each is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-0.25}
rounds=${2:-3}
: "${PGADVISOR_TEST_DSN:?run scripts/testenv up and source target/testenv/env.sh first}"
: "${PGADVISOR_TEST_PG_BINDIR:?run scripts/testenv up and source target/testenv/env.sh first}"
psql="$PGADVISOR_TEST_PG_BINDIR/psql -X -q -v ON_ERROR_STOP=1"
bin=${PGADVISOR_BIN:-target/release/pgadvisor}
if [[ ! -x $bin ]]; then cargo build --release --quiet; fi
plan=fixtures/plans/seed-platform.plan.yaml
tpl=pgadvisor_bench_tpl_$$
run_db=pgadvisor_bench_run_$$
admin() { $psql -d "$PGADVISOR_TEST_DSN" -c "$1" >/dev/null; }
cleanup() { admin "DROP DATABASE IF EXISTS $run_db WITH (FORCE)" || true; admin "DROP DATABASE IF EXISTS $tpl WITH (FORCE)" || true; }
trap cleanup EXIT

echo "loading seed-platform at scale $scale into the template database…" >&2
admin "CREATE DATABASE $tpl"
$psql -d "$PGADVISOR_TEST_DSN dbname=$tpl" -f fixtures/seed-platform/schema.sql 2>/dev/null
$psql -d "$PGADVISOR_TEST_DSN dbname=$tpl" -v scale="$scale" -f fixtures/seed-platform/data.sql
$psql -d "$PGADVISOR_TEST_DSN dbname=$tpl" -c "VACUUM ANALYZE"
rows=$($psql -A -t -d "$PGADVISOR_TEST_DSN dbname=$tpl" -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
size=$($psql -A -t -d "$PGADVISOR_TEST_DSN dbname=$tpl" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")

# The exact statements apply runs, taken from its own --dry-run.
mapfile -t ddl < <("$bin" apply "$plan" --dsn "$PGADVISOR_TEST_DSN dbname=$tpl" --dry-run | grep '^CREATE INDEX CONCURRENTLY')
echo "${#ddl[@]} CREATE INDEX CONCURRENTLY statements, $rows rows, $size" >&2

fresh() {
  admin "DROP DATABASE IF EXISTS $run_db WITH (FORCE)"
  admin "CREATE DATABASE $run_db TEMPLATE $tpl"
}
now() { date +%s.%N; }

declare -A times
contenders=(psql apply apply_no_analyze apply_jobs2)
for ((r = 1; r <= rounds; r++)); do
  for c in "${contenders[@]}"; do
    fresh
    dsn="$PGADVISOR_TEST_DSN dbname=$run_db"
    t0=$(now)
    case $c in
      psql) for s in "${ddl[@]}"; do $psql -d "$dsn" -c "$s"; done ;;
      apply) "$bin" apply "$plan" --dsn "$dsn" --yes >/dev/null 2>&1 ;;
      apply_no_analyze) "$bin" apply "$plan" --dsn "$dsn" --yes --no-analyze >/dev/null 2>&1 ;;
      apply_jobs2) "$bin" apply "$plan" --dsn "$dsn" --yes --jobs 2 >/dev/null 2>&1 ;;
    esac
    t1=$(now)
    n=$($psql -A -t -d "$dsn" -c "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'app'::regnamespace AND i.indisvalid")
    if [[ $n != 22 ]]; then echo "$c built $n valid indexes, expected 22" >&2; exit 1; fi
    t=$(echo "$t1 - $t0" | bc -l)
    times[$c]+="$t "
    printf 'round %d  %-17s %6.2f s\n' "$r" "$c" "$t" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
minimum() { tr ' ' '\n' | grep -v '^$' | sort -g | head -1; }
base=$(echo "${times[psql]}" | median)
base_min=$(echo "${times[psql]}" | minimum)
echo
echo "seed-platform scale $scale ($rows rows, $size), ${#ddl[@]} builds, $rounds rounds"
printf '%-40s %9s %8s %9s %8s\n' "contender" "median s" "vs psql" "best s" "vs psql"
for c in "${contenders[@]}"; do
  m=$(echo "${times[$c]}" | median)
  label=$c
  case $c in
    psql) label="psql, one statement at a time" ;;
    apply) label="pgadvisor apply (serial, with ANALYZE)" ;;
    apply_no_analyze) label="pgadvisor apply --no-analyze (serial)" ;;
    apply_jobs2) label="pgadvisor apply --jobs 2" ;;
  esac
  b=$(echo "${times[$c]}" | minimum)
  printf '%-40s %9.2f %+7.1f%% %9.2f %+7.1f%%\n' "$label" "$m" "$(echo "($m - $base) * 100 / $base" | bc -l)" \
    "$b" "$(echo "($b - $base_min) * 100 / $base_min" | bc -l)"
done
