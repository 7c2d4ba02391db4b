#!/usr/bin/env bash
# Benchmark `dbload seed --scale 1` against `pgbench -i` at a comparable data
# size, on the same server in the same run, several times each; prints the
# medians and the ratio. A benchmark, not a test: run it on a quiet machine.
#
#   scripts/bench-seed.sh [RUNS]          RUNS defaults to 3
#
# Environment: BENCH_URL (server to use; default: the managed local cluster),
# PGBENCH_SCALE (default 90, see below), SEED_SCALE (default 1), JOBS
# (dbload --jobs; default: dbload's default, the number of CPUs), PGBENCH.
#
# Why pgbench -s 90: one pgbench scale unit is 100,011 rows and about 15.6 MB
# (pgbench_accounts heap and primary key); dbload's scale 1 is 8.61 M rows and
# about 1.43 GB. -s 90 gives 9.0 M rows and about 1.4 GB: the same bytes and
# nearly the same rows. Both sizes are measured and printed below.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-3}
PGS=${PGBENCH_SCALE:-90}
SEED_SCALE=${SEED_SCALE:-1}
cargo build --release --quiet
BIN=$PWD/target/release/dbload
PGBENCH=${PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)}
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)

if [ -z "${BENCH_URL:-}" ]; then
  "$BIN" local start >/dev/null
  BENCH_URL=$("$BIN" local url)
fi
base=${BENCH_URL%%\?*}
query=${BENCH_URL#"$base"}
server=${base%/*}
url_for() { echo "$server/$1$query"; }
ADMIN=$(url_for postgres)
DB_SEED=dbload_bench_seed_$$
DB_PGB=dbload_bench_pgbench_$$
cleanup() {
  PGOPTIONS='-c client_min_messages=warning' "$PSQL" -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB_SEED WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS $DB_PGB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fresh() { # drop and create a database (every run starts from an empty one)
  PGOPTIONS='-c client_min_messages=warning' \
    "$PSQL" -q "$ADMIN" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "server:  $(echo "$BENCH_URL" | sed -E 's#://([^:@/]*):[^@]*@#://\1:***@#')"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dbload:  seed --scale $SEED_SCALE ${JOBS:+--jobs $JOBS}"
echo "pgbench: $("$PGBENCH" --version) -i -s $PGS"
echo

seed_t=()
pgb_t=()
for i in $(seq 1 "$RUNS"); do
  fresh "$DB_SEED"
  t0=$(now)
  "$BIN" -d "$(url_for "$DB_SEED")" seed --scale "$SEED_SCALE" ${JOBS:+--jobs "$JOBS"} >/tmp/bench-seed-$$.log 2>&1 \
    || { cat /tmp/bench-seed-$$.log; exit 1; }
  t1=$(now)
  seed_t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')")

  fresh "$DB_PGB"
  t0=$(now)
  "$PGBENCH" -i -q -s "$PGS" "$(url_for "$DB_PGB")" >/tmp/bench-pgbench-$$.log 2>&1 \
    || { cat /tmp/bench-pgbench-$$.log; exit 1; }
  t1=$(now)
  pgb_t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')")
  printf 'run %d: dbload seed %6.1f s   pgbench -i %6.1f s   (load average %s)\n' \
    "$i" "${seed_t[-1]}" "${pgb_t[-1]}" "$(cut -d' ' -f1 /proc/loadavg)"
done
echo
sed -n '/┌/,$p' /tmp/bench-seed-$$.log
tail -1 /tmp/bench-pgbench-$$.log
rm -f /tmp/bench-seed-$$.log /tmp/bench-pgbench-$$.log

q() { "$PSQL" -qAt "$1" -c "$2"; }
seed_rows=$(q "$(url_for "$DB_SEED")" "SELECT sum((value)::bigint) FROM dbload_datasets, jsonb_each_text(row_counts) WHERE complete")
seed_bytes=$(q "$(url_for "$DB_SEED")" "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'dbload%'")
pgb_rows=$(q "$(url_for "$DB_PGB")" "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_branches) + (SELECT count(*) FROM pgbench_tellers)")
pgb_bytes=$(q "$(url_for "$DB_PGB")" "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'pgbench%'")

ms=$(median "${seed_t[@]}")
mp=$(median "${pgb_t[@]}")
awk -v ms="$ms" -v mp="$mp" -v sr="$seed_rows" -v sb="$seed_bytes" -v pr="$pgb_rows" -v pb="$pgb_bytes" -v n="$RUNS" 'BEGIN {
  printf "\nmedians of %d runs (wall clock, whole command)\n", n
  printf "%-24s %10s %12s %10s %14s %10s\n", "", "seconds", "rows", "MB", "rows/s", "MB/s"
  printf "%-24s %10.1f %12d %10.0f %14.0f %10.1f\n", "dbload seed", ms, sr, sb/1e6, sr/ms, sb/1e6/ms
  printf "%-24s %10.1f %12d %10.0f %14.0f %10.1f\n", "pgbench -i", mp, pr, pb/1e6, pr/mp, pb/1e6/mp
  printf "ratio dbload/pgbench:  rows/s %.2fx   MB/s %.2fx\n", (sr/ms)/(pr/mp), (sb/ms)/(pb/mp)
}'
echo "dbload's time includes 23 foreign keys validated and ANALYZE; pgbench -i builds no foreign keys and VACUUMs."
