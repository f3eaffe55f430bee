#!/usr/bin/env bash
# Parse throughput of `pgadvisor explain` (MB/s) on a large JSON plan file and
# on 10,000 TEXT plans, next to reference points: Python's json.loads on the
# same JSON (parsing without building a plan model) and the whole
# `pgadvisor explain` command (parse + analyze + render) on both files.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench --bench explain_parse --quiet 2>/dev/null | grep '^pgadvisor' || cargo bench --bench explain_parse
cargo build --release --quiet

mbps() { # bytes seconds
    python3 -c "import sys; print(f'{int(sys.argv[1])/1e6/float(sys.argv[2]):7.1f}')" "$1" "$2"
}
best_of() { # command...; prints best wall seconds of 3
    local best=""
    for _ in 1 2 3; do
        local s e
        s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
        best=$(python3 -c "import sys; a=float(sys.argv[1]); b=sys.argv[2]; print(a if b=='' or a<float(b) else b)" "$(echo "$e - $s" | bc)" "$best")
    done
    echo "$best"
}

json=bench/out/large_plan.json
text=bench/out/plans_10000.txt
if command -v python3 >/dev/null; then
    secs=$(python3 - "$json" <<'PY'
import json, sys, time
data = open(sys.argv[1]).read()
best = min((lambda: (lambda s: (json.loads(data), time.perf_counter() - s)[1])(time.perf_counter()))() for _ in range(5))
print(best)
PY
)
    printf 'python3 json.loads (no model)  %-32s %s MB/s\n' "JSON, one plan of 20,001 nodes" "$(mbps "$(stat -c %s "$json")" "$secs")"
fi
for f in "$json" "$text"; do
    secs=$(best_of ./target/release/pgadvisor explain --format json "$f")
    printf 'pgadvisor explain (whole cmd)  %-32s %s MB/s  (%.2f s)\n' "$(basename "$f")" "$(mbps "$(stat -c %s "$f")" "$secs")" "$secs"
done
