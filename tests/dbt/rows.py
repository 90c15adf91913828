"""Rows a dbt test writes into a warehouse table before a build, in one statement per table.

`executemany` is one statement per row: 3.7 s for the money module's 4,100 rows on DuckDB,
paid before every build. Through Arrow (DuckDB) or one multi-row VALUES (PostgreSQL) the same
rows take a few milliseconds. The values are cast to the table's column types by position, as
an `insert ... values` would.
"""

from collections.abc import Sequence

import psycopg2.extras
import pyarrow as pa


def insert_duckdb(con, table: str, rows: Sequence[tuple], columns: Sequence[str] = ()) -> None:
    """Insert `rows` into `table` (into `columns` of it, in order, if given) over a DuckDB connection."""
    if not rows:
        return
    # One Arrow column per position: a column of Nones is Arrow's null type, which casts to any.
    incoming = pa.table({f"c{i}": list(values) for i, values in enumerate(zip(*rows, strict=True))})
    con.register("incoming_rows", incoming)
    try:
        con.execute(f"insert into {table} {_column_list(columns)} select * from incoming_rows")
    finally:
        con.unregister("incoming_rows")


def insert_postgres(cur, table: str, rows: Sequence[tuple], columns: Sequence[str] = ()) -> None:
    """The same over a psycopg2 cursor: pages of multi-row VALUES, not one statement per row."""
    psycopg2.extras.execute_values(cur, f"insert into {table} {_column_list(columns)} values %s", rows, page_size=5000)


def _column_list(columns: Sequence[str]) -> str:
    return f"({', '.join(columns)})" if columns else ""
