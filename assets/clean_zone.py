"""Writing a Spark result as a day of the clean zone, and making it readable by dbt."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow.parquet as pq

from assets.ports import Lake, Warehouse

if TYPE_CHECKING:  # pyspark loads with the first Spark step, not with the code location
    from pyspark.sql import DataFrame, SparkSession


def clean_spec(key: list[str], deps: list[list[str]], description: str, group: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=deps, description=description, group_name=group, kinds={"spark", "parquet"})


def parquet_rows(directory: Path) -> int:
    """Row count from the Parquet footers: no data is read."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(directory.glob("*.parquet")))


def publish(df: DataFrame, lake: Lake, warehouse: Warehouse, table: str, column: str, day: date) -> int:
    """Replace the day's partition of `clean/<table>` in the lake and in the warehouse's
    `clean` schema; returns the rows the warehouse now holds for the day.

    Spark writes a staged version of the day (its own overwrite would delete the day first);
    the warehouse loads that version, and the lake swaps it in only once the load committed.
    """
    with lake.staged_partition("clean", table, day) as staged:
        df.write.mode("overwrite").parquet(str(staged))
        return warehouse.replace_partition("clean", table, column, day, staged)


def reason_counts(flagged: DataFrame) -> dict[str, int]:
    rows = flagged.where("reason is not null").groupBy("reason").count().collect()
    return {row["reason"]: row["count"] for row in rows}


def rows_and_keys(rows: DataFrame, key: Sequence[str]) -> tuple[int, int]:
    """(rows, distinct keys), both counted; `distinct` treats null keys as equal, as the
    dedupe (`dropDuplicates`) does, where countDistinct would skip them."""
    return rows.count(), rows.select(*key).distinct().count()


def clean_day(
    session: SparkSession,
    lake: Lake,
    warehouse: Warehouse,
    day: date,
    raw: list[str],
    flag: Callable[[DataFrame, date], DataFrame],
    keep: Callable[[DataFrame], DataFrame],
    quarantine: Callable[[DataFrame, date], DataFrame],
    tables: tuple[str, str],
    clean_column: str,
    keys: tuple[Sequence[str], Sequence[str]],
) -> dict:
    """Validate one raw day with Spark and publish both outcomes; returns the day's counts.

    `flag` sets a reason on every row that must not pass; `keep` folds the valid rows to one
    per clean key; `quarantine` keeps one rejected row per quarantine key. Duplicates are
    counted from the flagged rows (rows - distinct keys), never derived from what was
    written, so the loss accounting (assets/accounting.py) can find a row gone missing.
    """
    clean_table, quarantine_table = tables
    clean_key, quarantine_key = keys
    raw_dir = lake.partition_dir(*raw, day)
    flagged = flag(session.read.parquet(str(raw_dir)), day).persist()
    try:
        valid_rows, valid_keys = rows_and_keys(flagged.where("reason is null"), clean_key)
        rejected_rows, rejected_keys = rows_and_keys(flagged.where("reason is not null"), quarantine_key)
        clean_rows = publish(keep(flagged), lake, warehouse, clean_table, clean_column, day)
        quarantined = publish(quarantine(flagged, day), lake, warehouse, quarantine_table, "partition_day", day)
        reasons = reason_counts(flagged)
    finally:
        flagged.unpersist()
    return {
        "raw_rows": parquet_rows(raw_dir),
        "valid_rows": valid_rows,
        "valid_keys": valid_keys,
        "rejected_rows": rejected_rows,
        "rejected_keys": rejected_keys,
        "duplicates": (valid_rows - valid_keys) + (rejected_rows - rejected_keys),
        "clean_rows": clean_rows,
        "quarantined_rows": quarantined,
        "quarantine_reasons": reasons,
    }


def clean_results(clean_key: list[str], quarantine_key: list[str], per_day: dict):
    """The two materializations of a clean step, with totals over its days."""
    counted = ("raw_rows", "clean_rows", "quarantined_rows", "duplicates")
    totals = {k: sum(d[k] for d in per_day.values()) for k in counted}
    yield dg.MaterializeResult(
        asset_key=clean_key,
        metadata={"dagster/row_count": totals["clean_rows"], **totals, "per_day": per_day},
    )
    yield dg.MaterializeResult(asset_key=quarantine_key, metadata={"dagster/row_count": totals["quarantined_rows"]})
