"""The asset key is the address: `["clean", "openaq_measurements"]` is the lake's zone `clean`,
table `openaq_measurements`, and (when the asset names a `partition_column` in its metadata)
the warehouse table `clean.openaq_measurements`.

An asset returns its days as a mapping `{day: data}` (a Spark DataFrame or an Arrow table per
day; a single-run backfill returns every day of its range), and this IO manager replaces each
day: written into a staged version of the lake day, loaded from that version into the
warehouse (delete the day + insert, one transaction), and only then swapped into the lake. A
failure or a kill at any point leaves the previous day in both, and they never disagree.
Inputs are handed over as `LakeDays` (paths, read lazily), whoever wrote the upstream table.
"""

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa

from assets.core.lake_days import LakeDays, parquet_rows
from assets.ports import Warehouse
from orchestration.resources.lake import LakeResource, write_parquet


def written_rows(frame, directory: Path) -> int:
    """Write one day's frame into `directory`; returns its rows, from the written files."""
    if isinstance(frame, pa.Table):
        return write_parquet(directory / "part-0.parquet", frame.schema, frame.to_batches())
    # A Spark DataFrame: its own overwrite would delete the day first, so it writes the staged version.
    frame.write.mode("overwrite").parquet(str(directory))
    return parquet_rows(directory)


class LakeIOManager(dg.ConfigurableIOManager):
    """Lake Parquet by day, and the warehouse's copy of every table with a `partition_column`."""

    lake: dg.ResourceDependency[LakeResource]
    warehouse: dg.ResourceDependency[Warehouse]

    def replace_day(self, zone: str, table: str, day: date, frame, partition_column: str | None) -> int:
        """Replace one day in the lake (and the warehouse); returns the rows the day now holds."""
        with self.lake.staged_partition(zone, table, day) as staged:
            rows = written_rows(frame, staged)
            if partition_column:
                rows = self.warehouse.replace_partition(zone, table, partition_column, day, staged)
        return rows

    def handle_output(self, context: dg.OutputContext, obj: Mapping[date, object]) -> None:
        zone, table = context.asset_key.path
        days = sorted(date.fromisoformat(key) for key in context.asset_partition_keys)
        if not isinstance(obj, Mapping) or sorted(obj) != days:
            got = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
            raise TypeError(f"{zone}/{table}: expected one frame per day {days}, got {got}")
        column = (context.definition_metadata or {}).get("partition_column")
        written = {day.isoformat(): self.replace_day(zone, table, day, obj[day], column) for day in days}
        context.add_output_metadata({"rows_written": written})

    def load_input(self, context: dg.InputContext) -> LakeDays:
        zone, table = context.asset_key.path
        days = [date.fromisoformat(key) for key in context.asset_partition_keys]
        return self.lake.read_days(zone, table, days)
