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

printf 'corpus: %s (%s statements, %s bytes)\n' "$CORPUS" "$STMTS" "$(stat -c %s "$CORPUS")"
printf '%-28s %10s %12s %14s %10s\n' tool seconds stmts/s fingerprints fallback
printf '%-28s %10.3f %12.0f %14s %10s\n' "pgadvisor fingerprint" "$OURS" "$(echo "$STMTS / $OURS" | bc -l)" "$DISTINCT" "$FALLBACK"
printf '%-28s %10.3f %12.0f %14s %10s\n' "pglast $(python3 -c 'import pglast; print(pglast.__version__)')" "$PEER" "$(echo "$PEER_STMTS / $PEER" | bc -l)" "$PEER_DISTINCT" "-"
printf 'ratio: %.2fx\n' "$(echo "($STMTS / $OURS) / ($PEER_STMTS / $PEER)" | bc -l)"
