"""A clean table's contract: its columns in order, each with its Spark type and meaning.

Plain data without a pyspark import, one module per clean table (spark/schemas/clean_*.py): the
transform selects the columns in this order, a test holds the transform's output schema (names,
order, types) equal to it (tests/spark/), and the catalogue shows it as the table's column
schema (`dagster/column_schema`, assets/column_schema.py).
"""

from collections.abc import Iterable
from typing import NamedTuple


class Column(NamedTuple):
    name: str
    type: str  # Spark's type as `DataFrame.dtypes` says it: "bigint", "timestamp_ntz", "decimal(18,2)"
    description: str = ""


def names(contract: Iterable[Column]) -> tuple[str, ...]:
    return tuple(column.name for column in contract)
