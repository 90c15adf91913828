"""Writing a Spark result as a day of the clean zone, and making it readable by dbt."""

from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
from pyspark.sql import DataFrame

from assets.ports import Lake, Warehouse


def clean_spec(key: list[str], deps: list[list[str]], description: str, group: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key, deps=deps, description=description, group_name=group, kinds={"spark", "parquet"}
    )


def parquet_rows(directory: Path) -> int:
    """Row count from the Parquet footers: no data is read."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(directory.glob("*.parquet")))


def publish(df: DataFrame, lake: Lake, warehouse: Warehouse, table: str, column: str, day: date) -> int:
    """Replace the day's partition of `clean/<table>` in the lake, then in the warehouse's
    `clean` schema; returns the rows the warehouse now holds for the day."""
    target = lake.partition_dir("clean", table, day)
    df.write.mode("overwrite").parquet(str(target))
    return warehouse.replace_partition("clean", table, column, day, target)


def reason_counts(flagged: DataFrame) -> dict[str, int]:
    rows = flagged.where("reason is not null").groupBy("reason").count().collect()
    return {row["reason"]: row["count"] for row in rows}
