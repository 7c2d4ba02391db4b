-- pgbench's built-in select-only script (`pgbench -S`) as a dbload workload:
-- one primary-key lookup on pgbench_accounts by a uniformly random aid.
-- Used by scripts/bench-stress.sh against a `pgbench -i -s 10` database
-- (1,000,000 accounts). In psql: \set aid 42
--
-- @workload pgbench-select

-- @scenario select_only weight=1
-- @param aid = int(1, 1000000)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
