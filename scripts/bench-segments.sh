#!/usr/bin/env bash
# Benchmark a segmented run against one process (issue 17): N workers at
# QPS/N each (one run: same seed, --segments, started together with
# --rendezvous, merged with `dbload merge`) versus one process at QPS, on the
# same server, alternating, RUNS times each. Prints per run and as medians:
# achieved rate (vs target), p50/p99 (the merge adds histograms: exact), and
# driver CPU per query (user+sys of all workers / queries).
# Not a test: the figures depend on the machine (driver and server share its
# CPUs here).
#
#   scripts/bench-segments.sh                       # N=2 QPS=10000 SECS=20 RUNS=3
#   BIN=target/release/dbload N=3 QPS=9000 scripts/bench-segments.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
N=${N:-2}
QPS=${QPS:-10000}
SECS=${SECS:-20}
WORKLOAD=queries/examples/pgbench_select.sql

. scripts/anchor.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
queries() { jq '.totals.calls + .totals.errors' "$1"; }
pct() { python3 -c "print(round(($1 / $2 - 1) * 100, 2))"; }

echo "bench: $(nproc) CPUs shared by driver(s) and server; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: $N workers x $(python3 -c "print($QPS / $N)")/s vs 1 process x $QPS/s, ${SECS}s after 2s warm-up, $RUNS runs each"
s_rate=(); s_p50=(); s_p99=(); s_cpu=(); m_rate=(); m_p50=(); m_p99=(); m_cpu=()
common=(-d "$ANCHOR" stress -w "$WORKLOAD" --qps "$QPS" --duration "${SECS}s" --warmup 2s --pool 16)
for i in $(seq "$RUNS"); do
  run_id="bench-$$-$i"
  pids=()
  for k in $(seq 0 $((N - 1))); do
    JOB_COMPLETION_INDEX=$k /usr/bin/time -o "$TMP/w$k.time" -f "%U %S" \
      $BIN "${common[@]}" --seed "$i" --segments "$N" --rendezvous --run-id "$run_id" \
        --quiet --out "$TMP/w$k.json" >/dev/null 2>"$TMP/w$k.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  $BIN merge "$TMP"/w*.json --out "$TMP/merged.json" >/dev/null 2>&1 || true
  total_cpu=0
  for k in $(seq 0 $((N - 1))); do total_cpu=$(python3 -c "print($total_cpu + $(cpu "$TMP/w$k.time"))"); done
  m_rate+=("$(jq '.totals.rate' "$TMP/merged.json")")
  m_p50+=("$(jq '.totals.latency.total.p50_us' "$TMP/merged.json")")
  m_p99+=("$(jq '.totals.latency.total.p99_us' "$TMP/merged.json")")
  m_cpu+=("$(python3 -c "print(round($total_cpu / $(queries "$TMP/merged.json") * 1e6, 1))")")
  starts=$(for k in $(seq 0 $((N - 1))); do
    jq -r '[.started_at, .segment.start_at, .segment.clock_offset_us] | @tsv' "$TMP/w$k.json"
  done | python3 -c '
import sys, datetime
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print(" ".join("%+.1f ms" % ((t(a) - float(o) / 1e6 - t(b)) * 1e3) for a, b, o in (l.split("\t") for l in sys.stdin)))')
  echo "  run $i: $N workers merged $(jq '.totals.rate' "$TMP/merged.json") /s (target $QPS, $(pct "${m_rate[-1]}" "$QPS") %), scheduled $(jq '.totals.scheduled' "$TMP/merged.json"), dropped $(jq '.totals.dropped' "$TMP/merged.json"), p50 ${m_p50[-1]} µs, p99 ${m_p99[-1]} µs, ${m_cpu[-1]} µs CPU/query; workers started $starts after the agreed instant; valid $(jq '.verdict.valid' "$TMP/merged.json")"

  /usr/bin/time -o "$TMP/one.time" -f "%U %S" \
    $BIN "${common[@]}" --seed "$i" --quiet --out "$TMP/one.json" >/dev/null 2>&1 || true
  s_rate+=("$(jq '.totals.rate' "$TMP/one.json")")
  s_p50+=("$(jq '.totals.latency.total.p50_us' "$TMP/one.json")")
  s_p99+=("$(jq '.totals.latency.total.p99_us' "$TMP/one.json")")
  s_cpu+=("$(python3 -c "print(round($(cpu "$TMP/one.time") / $(queries "$TMP/one.json") * 1e6, 1))")")
  echo "         1 process     ${s_rate[-1]} /s (target $QPS, $(pct "${s_rate[-1]}" "$QPS") %), scheduled $(jq '.totals.scheduled' "$TMP/one.json"), dropped $(jq '.totals.dropped' "$TMP/one.json"), p50 ${s_p50[-1]} µs, p99 ${s_p99[-1]} µs, ${s_cpu[-1]} µs CPU/query; valid $(jq '.verdict.valid' "$TMP/one.json")"
done
echo "segments: median of $RUNS — $N workers merged $(median "${m_rate[@]}") /s, p50 $(median "${m_p50[@]}") µs, p99 $(median "${m_p99[@]}") µs, $(median "${m_cpu[@]}") µs CPU/query;" \
     "1 process $(median "${s_rate[@]}") /s, p50 $(median "${s_p50[@]}") µs, p99 $(median "${s_p99[@]}") µs, $(median "${s_cpu[@]}") µs CPU/query"
