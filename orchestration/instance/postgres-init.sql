-- Run once by the postgres image (docker-entrypoint-initdb.d) on the first start of an empty
-- data volume, as the superuser, with `psql -v ON_ERROR_STOP=1`. Two databases with an owner
-- each: Dagster's storage and the warehouse, so neither service can read or drop the other's
-- tables. Names and passwords come from the container's environment (`\getenv`, psql 15+),
-- never from this file; an unset variable leaves `:'name'` unexpanded, which stops the script.

\getenv dagster_db DAGSTER_PG_DB
\getenv dagster_user DAGSTER_PG_USER
\getenv dagster_password DAGSTER_PG_PASSWORD
\getenv warehouse_db WAREHOUSE_DB
\getenv warehouse_user WAREHOUSE_USER
\getenv warehouse_password WAREHOUSE_PASSWORD

CREATE ROLE :"dagster_user" LOGIN PASSWORD :'dagster_password';
CREATE DATABASE :"dagster_db" OWNER :"dagster_user";
-- CONNECT is granted to PUBLIC by default: take it back, the owner keeps it.
REVOKE ALL ON DATABASE :"dagster_db" FROM PUBLIC;

CREATE ROLE :"warehouse_user" LOGIN PASSWORD :'warehouse_password';
CREATE DATABASE :"warehouse_db" OWNER :"warehouse_user";
REVOKE ALL ON DATABASE :"warehouse_db" FROM PUBLIC;
