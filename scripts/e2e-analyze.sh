#!/usr/bin/env bash
# End to end on the seeded vet dataset: stress the default workload, let
# `dbload analyze` propose indexes, apply them, stress again; print before and
# after. Usage: scripts/e2e-analyze.sh [scale] [seconds] [clients]
# Uses the local cluster and a scratch database dbload_e2e (created, then dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
secs=${2:-30}
clients=${3:-8}
bin=target/release/dbload
[ -x "$bin" ] || cargo build --release
base=$("$bin" local url)
admin=${base%/*}/postgres?sslmode=disable
db=dbload_e2e
url=${base%/*}/$db?sslmode=disable
out=${OUT:-target/e2e}
mkdir -p "$out"
psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
trap 'psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
"$bin" -d "$url" seed --scale "$scale"
reset() { psql -X -q -d "$url" -c "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)" >/dev/null; }
run() { # name
  "$bin" -d "$url" stress --clients "$clients" --duration "${secs}s" --warmup 5s --out "$out/$1-closed.json" --format markdown > "$out/$1-closed.md" || true
  "$bin" -d "$url" stress --qps "$qps" --duration "${secs}s" --warmup 5s --threshold 'p99<50ms' --out "$out/$1-open.json" --format markdown > "$out/$1-open.md" || true
}
summ() { python3 - "$@" <<'PY'
import json,sys
for f in sys.argv[1:]:
    r=json.load(open(f))
    t=r.get("totals") or r.get("total") or {}
    print(f, json.dumps({k:t.get(k) for k in t if not isinstance(t.get(k),(dict,list))})[:600])
PY
}
reset
qps=${QPS:-200}
run before
"$bin" -d "$url" analyze --format markdown > "$out/analyze.md" || true
"$bin" -d "$url" analyze --apply --yes > "$out/apply.txt" || true
reset
run after
summ "$out"/before-closed.json "$out"/after-closed.json "$out"/before-open.json "$out"/after-open.json
