-- dbload dataset metadata, version 2.
--
-- dbload_datasets: one row per `dbload seed` run. The latest row, when it is
-- complete, is "the dataset fingerprint" that stress and regress reports
-- embed (seed::fingerprint). A run inserts its row with complete = false
-- before writing any data and sets it to true only when every table is
-- loaded, constrained and analyzed.
--
-- dbload_seed_ddl: the keys, indexes and foreign keys a running seed dropped
-- to load faster, read from the catalog (pg_get_constraintdef /
-- pg_get_indexdef). Empty except while a seed runs or after one was
-- interrupted; the next seed restores from it, so the migrations stay the
-- single source of truth for the schema.

CREATE TABLE dbload_datasets (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seed          bigint      NOT NULL,
    scale         double precision NOT NULL,
    dbload_version text       NOT NULL,
    schema_version integer    NOT NULL,
    row_counts    jsonb       NOT NULL DEFAULT '{}',   -- {"clinics": 10000, ...}
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    complete      boolean     NOT NULL DEFAULT false
);

CREATE TABLE dbload_seed_ddl (
    position    integer PRIMARY KEY,
    table_name  text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('key', 'index', 'foreign_key')),
    name        text NOT NULL,
    definition  text NOT NULL
);
