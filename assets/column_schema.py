"""What the catalogue shows as a table's columns (`dagster/column_schema`), from what defines
them: a clean table's contract (spark/schemas/clean_*.py: names, Spark types, descriptions) or
a table's Arrow schema (the raw zones and the catalog tables, written from Python)."""

from collections.abc import Iterable

import dagster as dg
import pyarrow as pa

from spark.schemas.columns import Column


def column_schema(columns: Iterable[Column] | pa.Schema) -> dg.TableSchema:
    if isinstance(columns, pa.Schema):
        columns = [Column(field.name, str(field.type)) for field in columns]
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.description or None) for c in columns])
