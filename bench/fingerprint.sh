#!/usr/bin/env bash
# Fingerprint throughput: `pgadvisor fingerprint` vs pglast (libpg_query),
# whole process, same generated corpus, statements per second side by side.
# usage: bench/fingerprint.sh [N_STATEMENTS]   (default 100000)
# Both sides read the file, split it into statements, fingerprint and
# normalize every statement and write one JSON line per statement.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
WORK="${TMPDIR:-/tmp}/pgadvisor-fp-bench"
mkdir -p "$WORK"
CORPUS="$WORK/corpus-$N.sql"

python3 -c 'import pglast' 2>/dev/null || python3 -m pip install --quiet pglast
[ -s "$CORPUS" ] || python3 bench/gen_corpus.py "$N" > "$CORPUS"
cargo build --release --quiet
BIN=target/release/pgadvisor

# Best of 3 wall-clock runs, in seconds.
best() {
  local best=""
  for _ in 1 2 3; do
    local t0 t1 dt
    t0=$(date +%s.%N)
    "$@" > "$WORK/out.jsonl"
    t1=$(date +%s.%N)
    dt=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
  done
  echo "$best"
}

STMTS=$("$BIN" fingerprint --format jsonl "$CORPUS" | wc -l)
OURS=$(best "$BIN" fingerprint --format jsonl "$CORPUS")
FALLBACK=$(grep -c '"fallback":true' "$WORK/out.jsonl" || true)
DISTINCT=$(python3 -c 'import json,sys; print(len({json.loads(l)["fingerprint"] for l in open(sys.argv[1])}))' "$WORK/out.jsonl")
PEER=$(best python3 bench/pglast_fingerprint.py "$CORPUS")
PEER_STMTS=$(wc -l < "$WORK/out.jsonl")
PEER_DISTINCT=$(python3 -c 'import json,sys; print(len({json.loads(l)["fingerprint"] for l in open(sys.argv[1])}))' "$WORK/out.jsonl")
PEER_FALLBACK=$(grep -c '"fallback": true' "$WORK/out.jsonl" || true)
PEER_FP=$(best python3 bench/pglast_fingerprint.py --fingerprint-only "$CORPUS")
PV=$(python3 -c 'import pglast; print(pglast.__version__)')

printf 'corpus: %s (%s statements, %s bytes)\n' "$CORPUS" "$STMTS" "$(stat -c %s "$CORPUS")"
printf 'wall clock, best of 3, whole process, %s cores\n' "$(nproc)"
printf '%-40s %9s %10s %13s %9s\n' tool seconds stmts/s fingerprints failed
printf '%-40s %9.3f %10.0f %13s %9s\n' "pgadvisor fingerprint --format jsonl" "$OURS" "$(echo "$STMTS / $OURS" | bc -l)" "$DISTINCT" "0 ($FALLBACK fallback)"
printf '%-40s %9.3f %10.0f %13s %9s\n' "pglast $PV fingerprint+normalize" "$PEER" "$(echo "$PEER_STMTS / $PEER" | bc -l)" "$PEER_DISTINCT" "$PEER_FALLBACK"
printf '%-40s %9.3f %10.0f %13s %9s\n' "pglast $PV fingerprint only" "$PEER_FP" "$(echo "$PEER_STMTS / $PEER_FP" | bc -l)" "$PEER_DISTINCT" "$PEER_FALLBACK"
printf 'ratio vs pglast fingerprint only: %.2fx\n' "$(echo "$PEER_FP / $OURS" | bc -l)"
