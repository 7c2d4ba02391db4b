#!/usr/bin/env bash
# Measure how `dbload regress` behaves on this machine: the false-positive
# rate over identical reruns, and which injected slowdowns it detects.
# Not a test: the figures depend on the machine's noise.
#
#   scripts/regress-sensitivity.sh                     # defaults below
#   RERUNS=10 REPS=3 SECS=20 QPS=100 SLOWDOWNS="5 10 20 40" TOLERANCE=10% TAIL_TOLERANCE=25% \
#     BIN=target/release/dbload scripts/regress-sensitivity.sh
#
# Database `dbload_sensitivity` on the local cluster (created once): the
# schema, the small stress-test dataset, and a function sensitivity_probe()
# that the one-scenario workload calls in a primary-key lookup. The probe
# sleeps BASE_MS (an I/O-like wait); a slowdown of P % makes it sleep
# BASE_MS + P % of the baseline p50, rounded to whole ms: pg_sleep waits in
# whole milliseconds (it rounds up), so sub-ms injections are not possible
# and BASE_MS must be large enough for 5 % to be at least 1 ms.
# 1. A baseline run (--update-baseline).
# 2. RERUNS identical reruns: any run with a regressed metric is a false
#    positive (run level); regressed metrics / all metrics (metric level).
# 3. For each slowdown, REPS runs: detected when the scenario's p50 (or any
#    metric) is regressed.
# HISTORY=1 passes --history to every run after the baseline, so from the
# sixth rerun on tolerances are widened by the reruns' measured run-to-run
# spread; each line then says how many metrics were widened.
set -euo pipefail
cd "$(dirname "$0")/.."

RERUNS=${RERUNS:-10}
REPS=${REPS:-3}
SECS=${SECS:-20}
QPS=${QPS:-100}
BASE_MS=${BASE_MS:-20}
SLOWDOWNS=${SLOWDOWNS:-"5 10 20 40"}
TOLERANCE=${TOLERANCE:-10%}
TAIL_TOLERANCE=${TAIL_TOLERANCE:-25%}
HISTORY=${HISTORY:-}
if [ -z "${BIN:-}" ]; then
  cargo build -q
  BIN=target/debug/dbload
fi
$BIN local start >/dev/null
URL=$($BIN local url)
DB=$(echo "$URL" | sed -E 's#/[^/?]+(\?|$)#/dbload_sensitivity\1#')
if [ "$(psql "$URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'dbload_sensitivity'")" != 1 ]; then
  echo "sensitivity: creating dbload_sensitivity"
  psql "$URL" -qc "CREATE DATABASE dbload_sensitivity"
  $BIN -d "$DB" migrate >/dev/null
  psql "$DB" -q -f fixtures/stress_dataset.sql
fi
probe() {
  psql "$DB" -qc "CREATE OR REPLACE FUNCTION sensitivity_probe() RETURNS boolean LANGUAGE plpgsql AS
    \$\$BEGIN PERFORM pg_sleep($1 / 1000.0); RETURN true; END\$\$"
}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/workload.sql" <<'SQL'
-- @workload sensitivity
-- @scenario lookup
-- @param c = clinic()
-- @param p = pet_of(c)
SELECT id, name, sensitivity_probe() FROM pets WHERE id = :p;
SQL
cat > "$TMP/suite.toml" <<TOML
[suite]
name = "sensitivity"

[[run]]
name = "steady"
workload = "workload.sql"
qps = $QPS
arrival = "uniform"
duration = "${SECS}s"
warmup = "3s"
pool = 4
seed = 1
TOML
run() { # $1 = label; prints "label exit regressed/metrics p50-change verdict"
  local hist=()
  if [ -n "$HISTORY" ] && [ "$1" != baseline ]; then hist=(--history "$TMP/history"); fi
  set +e
  $BIN -d "$DB" regress --suite "$TMP/suite.toml" --baseline "$TMP/baseline.json" \
    --tolerance "$TOLERANCE" --tail-tolerance "$TAIL_TOLERANCE" --out "$TMP/out" "${hist[@]}" "${@:2}" >/dev/null 2>"$TMP/err"
  local rc=$?
  set -e
  python3 - "$1" "$rc" "$TMP/out/regress.json" <<'PY'
import json, sys
label, rc, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = json.load(open(path))
ms = r["runs"][0]["metrics"]
reg = sum(1 for m in ms if m["verdict"] == "regressed")
p50 = next((m for m in ms if m["scenario"] == "lookup" and m["metric"] == "p50"), None)
ch = "-" if not p50 or p50["change"] is None else f"{p50['change']*100:+.1f}%"
which = ",".join(f"{m['scenario']}:{m['metric']}" for m in ms if m["verdict"] == "regressed") or "-"
widened = sum(1 for m in ms if m.get("noise"))
print(f"{label} exit={rc} regressed={reg}/{len(ms)} p50_change={ch} p50_verdict={p50['verdict'] if p50 else '-'} which={which} widened={widened}")
PY
}

probe "$BASE_MS"
echo "sensitivity: tolerance $TOLERANCE (p95/p99 $TAIL_TOLERANCE), $QPS/s for ${SECS}s per run, probe ${BASE_MS} ms"
run baseline --update-baseline | tee "$TMP/base.txt"
P50=$(python3 -c "import json;r=json.load(open('$TMP/baseline.json'));print(next(s['latency']['total']['p50_us'] for s in r['runs'][0]['results']['scenarios'])/1000)")
echo "baseline p50 ${P50} ms"
for i in $(seq 1 "$RERUNS"); do run "rerun-$i"; done | tee "$TMP/reruns.txt"
for pct in $SLOWDOWNS; do
  extra=$(python3 -c "print(max(1, round($P50 * $pct / 100)) + $BASE_MS)")
  echo "slowdown $pct %: probe $extra ms (+$(python3 -c "print(round(($extra - $BASE_MS) / $P50 * 100, 1))") % of the baseline p50)" >&2
  probe "$extra"
  for i in $(seq 1 "$REPS"); do run "slow-$pct%-$i"; done
done | tee "$TMP/slow.txt"
probe "$BASE_MS"
python3 - "$TMP/reruns.txt" "$TMP/slow.txt" <<'PY'
import re, sys
runs = open(sys.argv[1]).read().split("\n")
runs = [l for l in runs if l]
fp_runs = sum(1 for l in runs if re.search(r"regressed=([1-9]\d*)/", l))
reg = sum(int(re.search(r"regressed=(\d+)/(\d+)", l).group(1)) for l in runs)
tot = sum(int(re.search(r"regressed=(\d+)/(\d+)", l).group(2)) for l in runs)
print(f"false positives: {fp_runs}/{len(runs)} runs, {reg}/{tot} metrics")
by = {}
for l in open(sys.argv[2]).read().split("\n"):
    m = re.match(r"slow-(\d+)%-\d+ exit=(\d+) regressed=(\d+)/\d+ p50_change=(\S+) p50_verdict=(\S+)", l)
    if m:
        by.setdefault(int(m.group(1)), []).append((m.group(5) == "regressed", int(m.group(3)) > 0, m.group(4)))
for pct in sorted(by):
    v = by[pct]
    print(f"slowdown {pct}%: p50 regressed in {sum(a for a,_,_ in v)}/{len(v)}, any metric in {sum(b for _,b,_ in v)}/{len(v)}, measured p50 change {' '.join(c for *_, c in v)}")
PY
