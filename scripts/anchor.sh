# Sourced by the stress benchmarks: the dbload binary to measure (BIN, or a
# fresh release build), the local cluster started, and the pgbench anchor
# database (`pgbench -i -s 10`, created once). Sets BIN, URL and ANCHOR, and
# defines the helpers the benchmarks share: median and cpu.
# BIN=path runs another build of dbload (e.g. before and after a change).
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/dbload
fi
$BIN local start >/dev/null
URL=$($BIN local url)
ANCHOR=$(echo "$URL" | sed -E 's#/[^/?]+(\?|$)#/pgbench_anchor\1#')
if [ "$(psql "$URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'pgbench_anchor'")" != 1 ]; then
  echo "bench: creating pgbench_anchor (pgbench -i -s 10)"
  psql "$URL" -qc "CREATE DATABASE pgbench_anchor"
  pgbench -q -i -s 10 "$ANCHOR" >/dev/null 2>&1
fi

# The median of the arguments (2 decimals).
median() { python3 -c 'import sys, statistics; v=[float(x) for x in sys.argv[1:]]; print(round(statistics.median(v), 2))' "$@"; }
# User + system CPU seconds from a `/usr/bin/time -f "%U %S"` file (its last
# line: time adds one on a non-zero exit).
cpu() { tail -1 "$1" | awk '{print $1 + $2}'; }
