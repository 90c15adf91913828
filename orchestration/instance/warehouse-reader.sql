-- The consumers' read-only role on the warehouse: USAGE on schema marts and SELECT on its
-- tables, and SELECT on the one table of schema catalog the API serves (catalog.ingested_files,
-- not its bookkeeping `_lake_versions`); nothing else (clean, staging and any other schema stay
-- closed; no writes). dbt grants SELECT again on every mart it rebuilds (`+grants` in
-- dbt/dbt_project.yml), the catalogue asset on the table it writes (PostgresWarehouse.grant_read);
-- the default privileges cover tables the warehouse role creates in marts by other means.
-- A NOLOGIN group role: each consumer logs in as its own role, made a member of this one.
--
-- Run as a superuser (or a role with CREATEROLE that is a member of the warehouse role) by
-- the compose init on the first start of an empty volume, and by `make reader-role` on an
-- existing server. Idempotent. Names from the environment (`\getenv`, psql 15+).

\getenv warehouse_db WAREHOUSE_DB
\getenv warehouse_user WAREHOUSE_USER
\getenv reader WAREHOUSE_READER_ROLE
\if :{?reader}
\else
\set reader marts_reader
\endif

\connect :"warehouse_db"

SELECT format('CREATE ROLE %I NOLOGIN', :'reader')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec

-- The warehouse database is closed to PUBLIC (postgres-init.sql): open it to the reader.
GRANT CONNECT ON DATABASE :"warehouse_db" TO :"reader";
-- dbt creates marts on its first run; creating it here first lets the grants exist from day one.
CREATE SCHEMA IF NOT EXISTS marts AUTHORIZATION :"warehouse_user";
GRANT USAGE ON SCHEMA marts TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"warehouse_user" IN SCHEMA marts GRANT SELECT ON TABLES TO :"reader";
-- The file catalogue: one table, granted by name (a default privilege would open the whole schema).
CREATE SCHEMA IF NOT EXISTS catalog AUTHORIZATION :"warehouse_user";
GRANT USAGE ON SCHEMA catalog TO :"reader";
SELECT format('GRANT SELECT ON catalog.ingested_files TO %I', :'reader')
 WHERE to_regclass('catalog.ingested_files') IS NOT NULL \gexec
