#!/usr/bin/env bash
# Benchmark `dbload stress` side by side with pgbench on the local cluster.
# Not a test: figures depend on the machine (driver and server share its
# CPUs). Prints medians of several alternating runs and the ratios.
#
#   scripts/bench-stress.sh                 # defaults below
#   RUNS=5 CLIENTS=16 PIPE=4 SECS=20 QPS=10000 OPEN_SECS=30 RES=1ms scripts/bench-stress.sh
#   BIN=/tmp/dbload-before scripts/bench-stress.sh   # another build
#   CLOSED=0 scripts/bench-stress.sh   # only the open model (OPEN=0: only the closed)
#
# 1. Closed model on CLIENTS connections: `pgbench -S -M prepared -c CLIENTS
#    -j 2 -T SECS` versus `dbload stress --clients CLIENTS` (one client per
#    connection, like pgbench) and `dbload stress --clients CLIENTS*PIPE
#    --pool CLIENTS` (PIPE clients pipelined on each connection), running
#    queries/examples/pgbench_select.sql (the same primary-key SELECT on
#    pgbench_accounts by a random aid). Throughput and driver CPU per query.
# 2. Open model at QPS: `pgbench -S -R QPS` versus `dbload stress --qps QPS`
#    (the default adaptive timer) and with --timer-resolution RES (default 0:
#    precise): achieved rate, p50/p99, schedule lag p50/p99, what the timer
#    did (arrivals per wake-up), and driver CPU (user+sys) per query.
# The anchor database `pgbench_anchor` (pgbench -i -s 10) is created once.
# SOCKET=1 connects both tools through the cluster's Unix socket instead of
# TCP loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-16}
PIPE=${PIPE:-4}
RES=${RES:-0}
CLOSED=${CLOSED:-1}
OPEN=${OPEN:-1}
SOCKET=${SOCKET:-}
SECS=${SECS:-20}
QPS=${QPS:-10000}
OPEN_SECS=${OPEN_SECS:-30}
WORKLOAD=queries/examples/pgbench_select.sql

. scripts/anchor.sh
if [ -n "$SOCKET" ]; then
  dir=$($BIN local status | sed -nE 's/^socket directory: *//p')
  port=$(echo "$URL" | sed -E 's#.*:([0-9]+)/.*#\1#')
  ANCHOR="postgresql://dbload@$(python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=''))" "$dir"):$port/pgbench_anchor?sslmode=disable"
fi
echo "bench: anchor $ANCHOR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT


echo "bench: $(nproc) CPUs shared by driver and server; load average $(cut -d' ' -f1-3 /proc/loadavg)"
ratio() { python3 -c "print(round($1 / $2, 3))"; }
per_query() { python3 -c "print(round($(cpu "$1") / $2 * 1e6, 1))"; }

if [ "$CLOSED" != 0 ]; then
echo "bench: closed model on $CLIENTS connections, ${SECS}s, $RUNS runs each (alternating)"
pg_tps=(); pg_cq=(); db_tps=(); db_cq=(); dp_tps=(); dp_cq=()
for i in $(seq "$RUNS"); do
  /usr/bin/time -o "$TMP/pg.time" -f "%U %S" \
    pgbench -n -S -M prepared -c "$CLIENTS" -j 2 -T "$SECS" "$ANCHOR" >"$TMP/pg.out" 2>/dev/null
  pg_tps+=("$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/pg.out")")
  pg_cq+=("$(per_query "$TMP/pg.time" "$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$TMP/pg.out")")")
  /usr/bin/time -o "$TMP/db.time" -f "%U %S" \
    $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --clients "$CLIENTS" --duration "${SECS}s" --warmup 0s \
      --seed "$i" --out "$TMP/closed.json" >/dev/null 2>&1 || true
  db_tps+=("$(jq '.totals.rate' "$TMP/closed.json")")
  db_cq+=("$(per_query "$TMP/db.time" "$(jq '.totals.calls + .totals.errors' "$TMP/closed.json")")")
  /usr/bin/time -o "$TMP/dp.time" -f "%U %S" \
    $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --clients $((CLIENTS * PIPE)) --pool "$CLIENTS" \
      --duration "${SECS}s" --warmup 0s --seed "$i" --out "$TMP/piped.json" >/dev/null 2>&1 || true
  dp_tps+=("$(jq '.totals.rate' "$TMP/piped.json")")
  dp_cq+=("$(per_query "$TMP/dp.time" "$(jq '.totals.calls + .totals.errors' "$TMP/piped.json")")")
  echo "  run $i: pgbench ${pg_tps[-1]} tps (${pg_cq[-1]} µs CPU/query, latency avg $(sed -nE 's/^latency average = ([0-9.]+ ms).*/\1/p' "$TMP/pg.out"));" \
       "dbload ${db_tps[-1]} /s (${db_cq[-1]} µs, p50 $(jq '.totals.latency.total.p50_us' "$TMP/closed.json") µs);" \
       "dbload pipelined x$PIPE ${dp_tps[-1]} /s (${dp_cq[-1]} µs, p50 $(jq '.totals.latency.total.p50_us' "$TMP/piped.json") µs, errors $(jq '.totals.errors' "$TMP/piped.json"))"
done
pg=$(median "${pg_tps[@]}"); db=$(median "${db_tps[@]}"); dp=$(median "${dp_tps[@]}")
echo "closed: median pgbench $pg tps ($(median "${pg_cq[@]}") µs CPU/query);" \
     "dbload $CLIENTS clients $db /s ($(median "${db_cq[@]}") µs), ratio $(ratio "$db" "$pg");" \
     "dbload $((CLIENTS * PIPE)) clients on $CLIENTS connections $dp /s ($(median "${dp_cq[@]}") µs), ratio $(ratio "$dp" "$pg")"
fi
[ "$OPEN" != 0 ] || exit 0

echo "bench: open model at $QPS/s for ${OPEN_SECS}s ($RUNS runs each)"
pg_cpu=(); pg_rate=(); db_cpu=(); db_rate=(); db_p99=(); db_lag=(); dr_cpu=(); dr_rate=(); dr_p99=()
open_run() { # name extra-args...
  local name=$1; shift
  /usr/bin/time -o "$TMP/$name.time" -f "%U %S" \
    $BIN -d "$ANCHOR" stress -w "$WORKLOAD" --qps "$QPS" --duration "${OPEN_SECS}s" --warmup 0s \
      --pool 16 --seed "$i" "$@" --out "$TMP/$name.json" >/dev/null 2>&1 || true
}
describe() { # name cpu
  local f="$TMP/$1.json"
  echo "$(jq '.totals.rate' "$f") /s (scheduled $(jq '.totals.scheduled' "$f"), dropped $(jq '.totals.dropped' "$f"), valid $(jq '.verdict.valid' "$f")), p50 $(jq '.totals.latency.total.p50_us' "$f") µs, p99 $(jq '.totals.latency.total.p99_us' "$f") µs, lag p50 $(jq '.totals.latency.lag.p50_us' "$f") µs p99 $(jq '.totals.latency.lag.p99_us' "$f") µs, timer $(jq -c 'if .driver_timer then .driver_timer | [.grid, .max_period_us, (.per_wakeup * 10 | round / 10)] else "-" end' "$f") (grid, µs, per wake-up), $2 µs CPU/query"
}
for i in $(seq "$RUNS"); do
  /usr/bin/time -o "$TMP/pg.time" -f "%U %S" \
    pgbench -n -S -M prepared -c 16 -j 2 -T "$OPEN_SECS" -R "$QPS" "$ANCHOR" >"$TMP/pg.out" 2>/dev/null
  n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$TMP/pg.out")
  pg_rate+=("$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/pg.out")")
  pg_cpu+=("$(per_query "$TMP/pg.time" "$n")")
  echo "  run $i: pgbench ${pg_rate[-1]} tps, latency avg $(sed -nE 's/^latency average = ([0-9.]+ ms).*/\1/p' "$TMP/pg.out"), lag avg $(sed -nE 's/^rate limit schedule lag: avg ([0-9.]+).*/\1/p' "$TMP/pg.out") ms, ${pg_cpu[-1]} µs CPU/query"
  open_run default
  db_rate+=("$(jq '.totals.rate' "$TMP/default.json")")
  db_p99+=("$(jq '.totals.latency.total.p99_us' "$TMP/default.json")")
  db_lag+=("$(jq '.totals.latency.lag.p99_us' "$TMP/default.json")")
  db_cpu+=("$(per_query "$TMP/default.time" "$(jq '.totals.calls + .totals.errors' "$TMP/default.json")")")
  echo "         dbload (default timer) $(describe default "${db_cpu[-1]}")"
  open_run res --timer-resolution "$RES"
  dr_rate+=("$(jq '.totals.rate' "$TMP/res.json")")
  dr_p99+=("$(jq '.totals.latency.total.p99_us' "$TMP/res.json")")
  dr_cpu+=("$(per_query "$TMP/res.time" "$(jq '.totals.calls + .totals.errors' "$TMP/res.json")")")
  echo "         dbload --timer-resolution $RES $(describe res "${dr_cpu[-1]}")"
done
pc=$(median "${pg_cpu[@]}"); dc=$(median "${db_cpu[@]}"); drc=$(median "${dr_cpu[@]}")
echo "open: target $QPS/s; pgbench median $(median "${pg_rate[@]}") tps, $pc µs CPU/query;" \
     "dbload (default) median $(median "${db_rate[@]}") /s, p99 $(median "${db_p99[@]}") µs, lag p99 $(median "${db_lag[@]}") µs, $dc µs CPU/query (ratio $(ratio "$dc" "$pc"));" \
     "with --timer-resolution $RES: $(median "${dr_rate[@]}") /s, p99 $(median "${dr_p99[@]}") µs, $drc µs CPU/query (ratio $(ratio "$drc" "$pc"))"
