#!/usr/bin/env bash
# The cost of live metrics: driver CPU per query of `dbload stress` at QPS
# (open model, the default precise timer) with and without
# --metrics-listen (scraped once a second, as a Prometheus would), on the
# pgbench_anchor database of scripts/bench-stress.sh. Alternating runs,
# medians and the ratio. Not a test: figures depend on the machine.
#
#   scripts/bench-metrics.sh                     # RUNS=3 QPS=10000 SECS=20
#   BIN=/tmp/dbload RUNS=5 scripts/bench-metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
QPS=${QPS:-10000}
SECS=${SECS:-20}
WORKLOAD=queries/examples/pgbench_select.sql
. scripts/anchor.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; kill $(jobs -p) 2>/dev/null || true' EXIT
per_query() { python3 -c "print(round($(tail -1 "$1" | awk '{print $1 + $2}') / $2 * 1e6, 2))"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

echo "bench: $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $QPS/s for ${SECS}s, $RUNS runs each (alternating)"
off=(); on=()
run() { # name extra-args...
  local name=$1; shift
  /usr/bin/time -o "$TMP/$name.time" -f "%U %S" \
    $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --qps "$QPS" --duration "${SECS}s" --warmup 0s \
      --pool 16 --seed "$i" "$@" --out "$TMP/$name.json" >/dev/null 2>&1 || true
  per_query "$TMP/$name.time" "$(jq '.totals.calls + .totals.errors' "$TMP/$name.json")"
}
for i in $(seq "$RUNS"); do
  off+=("$(run off)")
  ( sleep 1; while curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; do sleep 1; done ) &
  on+=("$(run on --metrics-listen "127.0.0.1:$port" --metrics-linger 0s)")
  wait
  echo "  run $i: without metrics ${off[-1]} µs CPU/query, with ${on[-1]} µs"
done
a=$(median "${off[@]}"); b=$(median "${on[@]}")
echo "metrics: median driver CPU/query without $a µs, with $b µs (scraped every second): ratio $(python3 -c "print(round($b / $a, 3))")"
