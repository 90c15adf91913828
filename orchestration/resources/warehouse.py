"""The warehouse that dbt builds on: DuckDB in the local profile, PostgreSQL in prod.

Both satisfy `assets.ports.Warehouse`: load a day's Parquet partition with the same contract,
in one transaction delete the day and insert the files, so a re-run of a day replaces it, never
adds to it. The lake IO manager (lake_io.py) calls it with the staged version of the day, and
the same transaction stamps the day with that version in `<schema>._lake_versions`: the lake is
the source of truth, and a day whose stamp is not the lake's current version is a copy the lake
never swapped in (a writer killed between the commit and the swap), which the IO manager reloads.
`query` is a read-only convenience for tests and the shell.
"""

import io
import threading
from contextlib import closing
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa

# duckdb, psycopg2 and pyarrow.dataset (which pulls in pandas, ~2 s) are imported where used:
# every process that loads the code location imports this module, few write to a warehouse.
from assets.core.lake_days import parquet_files

# `<schema>.<VERSIONS>`: per table and day, the lake version the warehouse holds.
VERSIONS = "_lake_versions"
VERSIONS_COLUMNS = "(table_name text not null, day date not null, version text not null, primary key (table_name, day))"

# DuckDB lets one process at a time open a file for writing, so concurrent replaces can only
# come from threads of one process. Their snapshots would let two first loads of a day both
# insert (a delete of the same rows conflicts instead): one lock per file serializes them.
_DUCKDB_LOCKS: dict[str, threading.Lock] = {}


class DuckDBWarehouse(dg.ConfigurableResource):
    """A single DuckDB file; dbt-duckdb opens the same file after the load closes it."""

    path: str

    def replace_partition(
        self, schema: str, table: str, partition_column: str, day: date, parquet_dir: Path, version: str | None = None
    ) -> int:
        """Make `schema.table` hold exactly the files of `parquet_dir` for `day`, stamped as lake
        `version` (None: no lake version, the stamp is removed); returns rows."""
        files = parquet_files(parquet_dir)
        target = f"{schema}.{table}"
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        import duckdb

        with self._lock(), closing(duckdb.connect(self.path)) as con:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table if not exists {schema}.{VERSIONS} {VERSIONS_COLUMNS}")
            con.execute("begin")
            _stamp(con, "?", schema, table, day, version)
            if files:
                incoming = con.read_parquet(files)
                con.register("incoming", incoming)
                con.execute(f"create table if not exists {target} as select * from incoming limit 0")
            if _duckdb_table_exists(con, schema, table):
                con.execute(f"delete from {target} where {partition_column} = ?", [day])
            if files:
                con.execute(f"insert into {target} by name select * from incoming")
            con.execute("commit")
            if not files:
                return 0
            count = f"select count(*) from {target} where {partition_column} = ?"
            return con.execute(count, [day]).fetchone()[0]

    def lake_versions(self, schema: str, table: str) -> dict[date, str]:
        """The lake version each day of `schema.table` was loaded from (days loaded with one)."""
        if not Path(self.path).exists():
            return {}
        import duckdb

        # Not read_only: a process may not hold one file open with two configurations.
        with self._lock(), closing(duckdb.connect(self.path)) as con:
            if not _duckdb_table_exists(con, schema, VERSIONS):
                return {}
            rows = con.execute(f"select day, version from {schema}.{VERSIONS} where table_name = ?", [table])
            return dict(rows.fetchall())

    def _lock(self) -> threading.Lock:
        return _DUCKDB_LOCKS.setdefault(str(Path(self.path).resolve()), threading.Lock())

    def grant_read(self, schema: str, table: str) -> None:
        """DuckDB has no roles: the API reads a snapshot copy of the file."""

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        with closing(duckdb.connect(self.path, read_only=True)) as con:
            return con.execute(sql).fetchall()


def _stamp(cur, placeholder: str, schema: str, table: str, day: date, version: str | None) -> None:
    """Record, in the caller's transaction, that `table`'s `day` holds lake `version`."""
    key = f"table_name = {placeholder} and day = {placeholder}"
    cur.execute(f"delete from {schema}.{VERSIONS} where {key}", [table, day])
    if version is not None:
        values = ", ".join([placeholder] * 3)
        cur.execute(f"insert into {schema}.{VERSIONS} values ({values})", [table, day, version])


def _duckdb_table_exists(con, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found[0])


_PG_TYPES = {
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.float64(): "double precision",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.bool_(): "boolean",
    pa.date32(): "date",
}


def _pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_decimal(arrow_type):
        # The clean zone's money (Spark DecimalType): kept fixed-point, never through a float.
        return f"numeric({arrow_type.precision},{arrow_type.scale})"
    try:
        return _PG_TYPES[arrow_type]
    except KeyError:
        raise TypeError(f"no PostgreSQL type for Arrow type {arrow_type}") from None


class PostgresWarehouse(dg.ConfigurableResource):
    """PostgreSQL; rows go in with COPY, streamed batch by batch to bound memory."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = None
    dbname: str = "warehouse"
    connect_timeout_seconds: int = 10
    # The consumers' read-only role (orchestration/instance/warehouse-reader.sql); None: no grants.
    reader_role: str | None = None

    def _connect(self):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            connect_timeout=self.connect_timeout_seconds,
        )

    def replace_partition(
        self, schema: str, table: str, partition_column: str, day: date, parquet_dir: Path, version: str | None = None
    ) -> int:
        files = parquet_files(parquet_dir)
        target = f"{schema}.{table}"
        import pyarrow.dataset as pa_ds

        dataset = pa_ds.dataset(files, format="parquet") if files else None
        with closing(self._connect()) as conn:
            # Two sessions running CREATE ... IF NOT EXISTS at once can both pass the check and
            # collide in the catalogue: DDL is serialized per schema, in its own short transaction.
            with conn, conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"airstream.ddl:{schema}"])
                cur.execute(f"create schema if not exists {schema}")
                cur.execute(f"create table if not exists {schema}.{VERSIONS} {VERSIONS_COLUMNS}")
                if dataset is not None:
                    columns = ", ".join(f'"{f.name}" {_pg_type(f.type)}' for f in dataset.schema)
                    cur.execute(f"create table if not exists {target} ({columns})")
            with conn, conn.cursor() as cur:
                # Under READ COMMITTED a second DELETE of the day cannot see rows a concurrent
                # replace has inserted but not committed, so both inserts would survive: replaces
                # of one day queue on a lock held until commit (other days run in parallel).
                cur.execute("select pg_advisory_xact_lock(hashtext(%s), %s)", [target, day.toordinal()])
                _stamp(cur, "%s", schema, table, day, version)
                cur.execute("select to_regclass(%s)", [target])
                if cur.fetchone()[0] is None:
                    return 0
                cur.execute(f"delete from {target} where {partition_column} = %s", [day])
                if dataset is None:
                    return 0
                return _copy_in(cur, target, dataset)

    def lake_versions(self, schema: str, table: str) -> dict[date, str]:
        with closing(self._connect()) as conn, conn.cursor() as cur:
            cur.execute("select to_regclass(%s)", [f"{schema}.{VERSIONS}"])
            if cur.fetchone()[0] is None:
                return {}
            cur.execute(f"select day, version from {schema}.{VERSIONS} where table_name = %s", [table])
            return dict(cur.fetchall())

    def grant_read(self, schema: str, table: str) -> None:
        """Let the reader role read `schema.table`, and nothing else of the schema: what dbt's
        `+grants` does for each mart, for a table written here that the API serves. Granted
        again after every write, so a table created after the role (a new server) is covered."""
        if not self.reader_role:
            return
        from psycopg2 import sql

        role = sql.Identifier(self.reader_role)
        with closing(self._connect()) as conn, conn, conn.cursor() as cur:
            cur.execute("select to_regclass(%s)", [f"{schema}.{table}"])
            if cur.fetchone()[0] is None:  # a day without files creates no table
                return
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), role))
            cur.execute(sql.SQL("grant select on table {} to {}").format(sql.Identifier(schema, table), role))

    def query(self, sql: str) -> list[tuple]:
        with closing(self._connect()) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


def _copy_in(cur, target: str, dataset) -> int:
    """COPY the pyarrow dataset into `target`, batch by batch; returns the rows sent."""
    import pyarrow.csv as pa_csv

    names = ", ".join(f'"{n}"' for n in dataset.schema.names)
    rows = 0
    for batch in dataset.to_batches():
        buffer = io.BytesIO()
        pa_csv.write_csv(batch, buffer, pa_csv.WriteOptions(include_header=False))
        buffer.seek(0)
        cur.copy_expert(f"copy {target} ({names}) from stdin with (format csv)", buffer)
        rows += batch.num_rows
    return rows
