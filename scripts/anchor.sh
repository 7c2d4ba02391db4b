# Sourced by the stress benchmarks: the dbload binary to measure (BIN, or a
# fresh release build), the local cluster started, and the pgbench anchor
# database (`pgbench -i -s 10`, created once). Sets BIN, URL and ANCHOR.
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
