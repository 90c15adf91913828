-- The login the API and the exporter use: a member of the read-only role (warehouse-reader.sql)
-- and nothing else, so they read schema marts and the table catalog.ingested_files only. Run
-- after warehouse-reader.sql, by the compose init on the first start of an empty volume.
-- Idempotent; the password is refreshed.

\getenv warehouse_db WAREHOUSE_DB
\getenv login WAREHOUSE_READER_USER
\getenv password WAREHOUSE_READER_PASSWORD
\getenv reader WAREHOUSE_READER_ROLE
\if :{?reader}
\else
\set reader marts_reader
\endif

\connect :"warehouse_db"

SELECT format('CREATE ROLE %I LOGIN', :'login')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'login') \gexec
ALTER ROLE :"login" WITH LOGIN PASSWORD :'password';
GRANT :"reader" TO :"login";
