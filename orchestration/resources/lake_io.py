"""The asset key is the address: `["clean", "ecommerce_orders"]` is the lake's zone `clean`,
table `ecommerce_orders`, and (when the asset names a `partition_column` in its metadata)
the warehouse table `clean.ecommerce_orders` (assets/streams.py `zone_key`).

An asset returns its days in one of two shapes (a single-run backfill returns every day of its
range): a Spark DataFrame holding the whole range, each row's day in the table's
`partition_column`, written in ONE Spark write partitioned by day (a range then costs one job,
not one per day); or a mapping `{day: data}`, an Arrow table per day (Python writers). Either
way this IO manager replaces each day on its own: its files put into a staged version of the
lake day, loaded from that version into the warehouse (delete the day + insert + stamp the
version, one transaction), and only then swapped into the lake. A failure or a kill before the warehouse commit leaves the previous day in both.
A kill between that commit and the swap leaves the warehouse on a version the lake never got:
the stamp shows it, and every write of the table ends by reloading such days from the lake's
current version (`repair`), the lake being the source of truth; the asset check
`warehouse_matches_lake` (assets/lake_warehouse.py) names them meanwhile.
Inputs are handed over as `LakeDays` (paths, read lazily), whoever wrote the upstream table.
"""

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa

from assets.core.lake_days import LakeDays, parquet_rows
from assets.lake_warehouse import disagreeing_days
from assets.ports import Warehouse
from orchestration.resources.lake import LakeResource, write_parquet

# The column a range is partitioned by in staging: a copy of the table's own day column, which
# `partitionBy` would otherwise take out of the files.
STAGED_DAY = "_lake_day"


def written_rows(frame, directory: Path) -> int:
    """Write one day's frame into `directory`; returns its rows, from the written files."""
    if isinstance(frame, pa.Table):
        return write_parquet(directory / "part-0.parquet", frame.schema, frame.to_batches())
    # A Spark DataFrame: its own overwrite would delete the day first, so it writes the staged version.
    frame.write.mode("overwrite").parquet(str(directory))
    return parquet_rows(directory)


def write_range(frame, staging: Path, column: str) -> dict[str, Path]:
    """One Spark write of a range's frame into `staging`, a directory per value of `column`;
    returns them by value (as text). A day without rows gets no directory from `partitionBy`,
    so an empty file with the frame's schema is written beside them (`empty`), as Spark's write
    of an empty day has: a `limit(0)` plan reads no data."""
    frame.withColumn(STAGED_DAY, frame[column]).write.partitionBy(STAGED_DAY).parquet(str(staging / "days"))
    return {p.name.partition("=")[2]: p for p in (staging / "days").glob(f"{STAGED_DAY}=*") if p.is_dir()}


def _empty_day(frame, staging: Path) -> Path:
    empty = staging / "empty"
    if not empty.exists():
        frame.limit(0).write.parquet(str(empty))
    return empty


def _move_files(source: Path, version: Path) -> None:
    # Renames within the table's directory: the data is not copied. Spark's checksum and marker
    # files (.crc, _SUCCESS) stay behind; a day holds its Parquet files only.
    for path in sorted(source.glob("*.parquet")):
        os.rename(path, version / path.name)


def _is_spark_frame(obj) -> bool:
    # Classic and Spark Connect frames are different classes; both have `write` and `columns`.
    return hasattr(obj, "write") and hasattr(obj, "columns") and not isinstance(obj, pa.Table)


class LakeIOManager(dg.ConfigurableIOManager):
    """Lake Parquet by day, and the warehouse's copy of every table with a `partition_column`."""

    lake: dg.ResourceDependency[LakeResource]
    warehouse: dg.ResourceDependency[Warehouse]

    def replace_day(self, zone: str, table: str, day: date, frame, partition_column: str | None) -> int:
        """Replace one day in the lake (and the warehouse); returns the rows the day now holds."""
        with self.lake.staged_partition(zone, table, day) as staged:
            rows = written_rows(frame, staged)
            if partition_column:
                rows = self.warehouse.replace_partition(zone, table, partition_column, day, staged, staged.name)
        return rows

    def replace_days(self, zone: str, table: str, days: list[date], frame, column: str) -> dict[str, int]:
        """Replace every day of a range from one Spark frame of it (see the module docstring);
        returns the rows each day now holds. Rows of a day outside the range fail the write
        before any day is swapped."""
        with self.lake.staged_days(zone, table) as staging:
            staged = write_range(frame, staging, column)
            outside = sorted(set(staged) - {day.isoformat() for day in days})
            if outside:
                raise ValueError(f"{zone}/{table}: rows with {column} outside the run's days {days}: {outside}")
            written = {}
            for day in days:
                source = staged.get(day.isoformat()) or _empty_day(frame, staging)
                with self.lake.staged_partition(zone, table, day) as version:
                    _move_files(source, version)
                    rows = parquet_rows(version)
                    if column:
                        rows = self.warehouse.replace_partition(zone, table, column, day, version, version.name)
                written[day.isoformat()] = rows
        return written

    def repair(self, zone: str, table: str, partition_column: str) -> list[date]:
        """Reload from the lake every day whose warehouse copy is of another version; returns them.

        Under the day's lock, checked again there: a writer holds that lock from its staging to
        its swap, so a day seen disagreeing mid-write is left to it, and two repairs of a day
        load it once. A day the lake does not have (a first write killed before its swap) is
        emptied and unstamped.
        """
        repaired = []
        for key in disagreeing_days(self.lake, self.warehouse, zone, table):
            day = date.fromisoformat(key)
            with self.lake.locked_day(zone, table, day) as current:
                if self.warehouse.lake_versions(zone, table).get(day) == current:
                    continue
                directory = self.lake.partition_dir(zone, table, day)
                self.warehouse.replace_partition(zone, table, partition_column, day, directory, current)
                repaired.append(day)
        return repaired

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        zone, table = context.asset_key.path
        days = sorted(date.fromisoformat(key) for key in context.asset_partition_keys)
        column = (context.definition_metadata or {}).get("partition_column")
        if isinstance(obj, Mapping):
            if sorted(obj) != days:
                raise TypeError(f"{zone}/{table}: expected one frame per day {days}, got {sorted(obj)}")
            written = {day.isoformat(): self.replace_day(zone, table, day, obj[day], column) for day in days}
        elif _is_spark_frame(obj) and column:
            written = self.replace_days(zone, table, days, obj, column)
        else:
            raise TypeError(
                f"{zone}/{table}: expected a Spark DataFrame of the range with its day in a partition_column, "
                f"or one frame per day {days}; got {type(obj).__name__}"
                + ("" if column else " (the asset names no partition_column)")
            )
        repaired = self.repair(zone, table, column) if column else []
        if repaired:
            context.log.warning(
                f"{zone}/{table}: reloaded from the lake, the warehouse had another version: {repaired}"
            )
        context.add_output_metadata({"rows_written": written, "reloaded_from_lake": [d.isoformat() for d in repaired]})

    def load_input(self, context: dg.InputContext) -> LakeDays:
        zone, table = context.asset_key.path
        days = [date.fromisoformat(key) for key in context.asset_partition_keys]
        return self.lake.read_days(zone, table, days)
