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

# Best of 3 runs: prints "wall_seconds cpu_seconds" (user + sys) of the
# fastest run. CPU time is the steadier figure on a busy machine.
best() {
  local best_wall="" best_cpu=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" > "$WORK/out.jsonl"
    read -r wall user sys < "$WORK/time"
    if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc -l)" = 1 ]; then
      best_wall=$wall
      best_cpu=$(echo "$user + $sys" | bc -l)
    fi
  done
  echo "$best_wall $best_cpu"
}

STMTS=$("$BIN" fingerprint --format jsonl "$CORPUS" | wc -l)
OURS=$(best "$BIN" fingerprint --format jsonl "$CORPUS")
FALLBACK=$(grep -c '"fallback":true' "$WORK/out.jsonl" || true)
cp "$WORK/out.jsonl" "$WORK/ours.jsonl"
DISTINCT=$(python3 -c 'import json,sys; print(len({json.loads(l)["fingerprint"] for l in open(sys.argv[1])}))' "$WORK/out.jsonl")
PEER=$(best python3 bench/pglast_fingerprint.py "$CORPUS")
PEER_STMTS=$(wc -l < "$WORK/out.jsonl")
PEER_DISTINCT=$(python3 -c 'import json,sys; print(len({json.loads(l)["fingerprint"] for l in open(sys.argv[1])} - {None}))' "$WORK/out.jsonl")
PEER_FALLBACK=$(grep -c '"fallback": true' "$WORK/out.jsonl" || true)
# Do both tools group the statements libpg_query parses the same way?
GROUPING=$(python3 - "$WORK/ours.jsonl" "$WORK/out.jsonl" <<'PY'
import json, sys
from collections import defaultdict
ours = [json.loads(l)["fingerprint"] for l in open(sys.argv[1])]
peer = [json.loads(l)["fingerprint"] for l in open(sys.argv[2])]
a, b = defaultdict(set), defaultdict(set)
for o, p in zip(ours, peer):
    if p is not None:
        a[o].add(p)
        b[p].add(o)
merged = sum(len(v) > 1 for v in a.values())  # our shapes spanning several of theirs
split = sum(len(v) > 1 for v in b.values())   # their shapes split by us
print(f"{len(a)} shapes vs {len(b)}; {merged} of ours merge several of pglast's, {split} of pglast's are split by us")
PY
)
PEER_FP=$(best python3 bench/pglast_fingerprint.py --fingerprint-only "$CORPUS")
PV=$(python3 -c 'import pglast; print(pglast.__version__)')

printf 'corpus: %s (%s statements, %s bytes), %s cores, load %s\n' "$CORPUS" "$STMTS" "$(stat -c %s "$CORPUS")" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf 'whole process, best of 3 by wall clock\n'
printf '%-38s %8s %10s %8s %11s %6s %s\n' tool wall_s stmts/s cpu_s stmts/cpu_s shapes failed
row() { # name "wall cpu" statements shapes failed
  local wall cpu
  read -r wall cpu <<< "$2"
  printf '%-38s %8.2f %10.0f %8.2f %11.0f %6s %s\n' "$1" "$wall" "$(echo "$3 / $wall" | bc -l)" "$cpu" "$(echo "$3 / $cpu" | bc -l)" "$4" "$5"
}
row "pgadvisor fingerprint --format jsonl" "$OURS" "$STMTS" "$DISTINCT" "0 ($FALLBACK via fallback)"
row "pglast $PV fingerprint+normalize" "$PEER" "$PEER_STMTS" "$PEER_DISTINCT" "$PEER_FALLBACK"
row "pglast $PV fingerprint only" "$PEER_FP" "$PEER_STMTS" "$PEER_DISTINCT" "$PEER_FALLBACK"
printf 'grouping on the statements pglast parses: %s\n' "$GROUPING"
read -r ow oc <<< "$OURS"
read -r pw pc <<< "$PEER_FP"
printf 'ours vs pglast fingerprint only: %.2fx wall clock, %.2fx per CPU second\n' "$(echo "$pw / $ow" | bc -l)" "$(echo "$pc / $oc" | bc -l)"
