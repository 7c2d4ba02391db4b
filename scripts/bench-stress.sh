#!/usr/bin/env bash
# Benchmark `dbload stress` side by side with pgbench on the local cluster.
# Not a test: figures depend on the machine (driver and server share its
# CPUs). Prints medians of several alternating runs and the ratios.
#
#   scripts/bench-stress.sh                 # defaults below
#   RUNS=5 CLIENTS=16 SECS=20 QPS=10000 OPEN_SECS=30 scripts/bench-stress.sh
#
# 1. Closed model: `pgbench -S -M prepared -c CLIENTS -j 2 -T SECS` versus
#    `dbload stress --clients CLIENTS` running queries/examples/pgbench_select.sql
#    (the same primary-key SELECT on pgbench_accounts by a random aid).
# 2. Open model at QPS: `pgbench -S -R QPS` versus `dbload stress --qps QPS`
#    (precise timer, the default) and with --coarse-timer: achieved rate,
#    p50/p99, schedule lag, and driver CPU (user+sys) per query.
# The anchor database `pgbench_anchor` (pgbench -i -s 10) is created once.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-16}
SECS=${SECS:-20}
QPS=${QPS:-10000}
OPEN_SECS=${OPEN_SECS:-30}
WORKLOAD=queries/examples/pgbench_select.sql

cargo build --release -q
BIN=target/release/dbload
$BIN local start >/dev/null
URL=$($BIN local url)
ANCHOR=$(echo "$URL" | sed -E 's#/[^/?]+(\?|$)#/pgbench_anchor\1#')
if [ "$(psql "$URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'pgbench_anchor'")" != 1 ]; then
  echo "bench: creating pgbench_anchor (pgbench -i -s 10)"
  psql "$URL" -qc "CREATE DATABASE pgbench_anchor"
  pgbench -q -i -s 10 "$ANCHOR" >/dev/null 2>&1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

median() { python3 -c 'import sys, statistics; v=[float(x) for x in sys.argv[1:]]; print(round(statistics.median(v), 1))' "$@"; }
cpu() { awk '{print $1 + $2}' "$1"; }

echo "bench: $(nproc) CPUs shared by driver and server; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: closed model, $CLIENTS clients, ${SECS}s, $RUNS runs each (alternating)"
pg_tps=(); db_tps=()
for i in $(seq "$RUNS"); do
  t=$(pgbench -n -S -M prepared -c "$CLIENTS" -j 2 -T "$SECS" "$ANCHOR" 2>/dev/null | sed -nE 's/^tps = ([0-9.]+).*/\1/p')
  pg_tps+=("$t")
  $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --clients "$CLIENTS" --duration "${SECS}s" --warmup 0s \
      --seed "$i" --out "$TMP/closed.json" >/dev/null 2>&1 || true
  d=$(jq '.totals.rate' "$TMP/closed.json")
  db_tps+=("$d")
  echo "  run $i: pgbench $t tps, dbload $d /s"
done
pg=$(median "${pg_tps[@]}"); db=$(median "${db_tps[@]}")
echo "closed: median pgbench $pg tps, dbload $db /s, ratio dbload/pgbench $(python3 -c "print(round($db / $pg, 3))")"

echo "bench: open model at $QPS/s for ${OPEN_SECS}s ($RUNS runs each)"
pg_cpu=(); db_cpu=(); db_rate=(); db_p99=(); pg_rate=(); dbc_cpu=(); dbc_p99=()
for i in $(seq "$RUNS"); do
  /usr/bin/time -o "$TMP/pg.time" -f "%U %S" \
    pgbench -n -S -M prepared -c 16 -j 2 -T "$OPEN_SECS" -R "$QPS" "$ANCHOR" >"$TMP/pg.out" 2>/dev/null
  n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$TMP/pg.out")
  r=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/pg.out")
  pg_rate+=("$r")
  pg_cpu+=("$(python3 -c "print($(cpu "$TMP/pg.time") / $n * 1e6)")")
  /usr/bin/time -o "$TMP/db.time" -f "%U %S" \
    $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --qps "$QPS" --duration "${OPEN_SECS}s" --warmup 0s \
      --pool 16 --seed "$i" --out "$TMP/open.json" >/dev/null 2>&1 || true
  n=$(jq '.totals.calls + .totals.errors' "$TMP/open.json")
  db_rate+=("$(jq '.totals.rate' "$TMP/open.json")")
  db_p99+=("$(jq '.totals.latency.total.p99_us' "$TMP/open.json")")
  db_cpu+=("$(python3 -c "print($(cpu "$TMP/db.time") / $n * 1e6)")")
  echo "  run $i: pgbench $r tps, ${pg_cpu[-1]} µs CPU/query; dbload $(jq '.totals.rate' "$TMP/open.json") /s (scheduled $(jq '.totals.scheduled' "$TMP/open.json"), dropped $(jq '.totals.dropped' "$TMP/open.json")), p50 $(jq '.totals.latency.total.p50_us' "$TMP/open.json") µs, p99 $(jq '.totals.latency.total.p99_us' "$TMP/open.json") µs, lag p50 $(jq '.totals.latency.lag.p50_us' "$TMP/open.json") µs, ${db_cpu[-1]} µs CPU/query, valid $(jq '.verdict.valid' "$TMP/open.json")"
  /usr/bin/time -o "$TMP/dbc.time" -f "%U %S" \
    $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --qps "$QPS" --duration "${OPEN_SECS}s" --warmup 0s \
      --pool 16 --seed "$i" --coarse-timer --out "$TMP/coarse.json" >/dev/null 2>&1 || true
  n=$(jq '.totals.calls + .totals.errors' "$TMP/coarse.json")
  dbc_cpu+=("$(python3 -c "print($(cpu "$TMP/dbc.time") / $n * 1e6)")")
  dbc_p99+=("$(jq '.totals.latency.total.p99_us' "$TMP/coarse.json")")
  echo "         dbload --coarse-timer $(jq '.totals.rate' "$TMP/coarse.json") /s, p50 $(jq '.totals.latency.total.p50_us' "$TMP/coarse.json") µs, p99 ${dbc_p99[-1]} µs, lag p50 $(jq '.totals.latency.lag.p50_us' "$TMP/coarse.json") µs, ${dbc_cpu[-1]} µs CPU/query"
done
pc=$(median "${pg_cpu[@]}"); dc=$(median "${db_cpu[@]}"); dcc=$(median "${dbc_cpu[@]}")
echo "open: target $QPS/s; pgbench median $(median "${pg_rate[@]}") tps, $pc µs CPU/query;" \
     "dbload median $(median "${db_rate[@]}") /s, p99 $(median "${db_p99[@]}") µs, $dc µs CPU/query" \
     "(CPU ratio dbload/pgbench $(python3 -c "print(round($dc / $pc, 3))"));" \
     "with --coarse-timer: p99 $(median "${dbc_p99[@]}") µs, $dcc µs CPU/query" \
     "(ratio $(python3 -c "print(round($dcc / $pc, 3))"))"
