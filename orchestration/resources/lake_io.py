"""The asset key is the address: `["clean", "openaq_measurements"]` is the lake's zone `clean`,
table `openaq_measurements`, and (when the asset names a `partition_column` in its metadata)
the warehouse table `clean.openaq_measurements`.

An asset returns its days as a mapping `{day: data}` (a Spark DataFrame or an Arrow table per
day; a single-run backfill returns every day of its range), and this IO manager replaces each
day: written into a staged version of the lake day, loaded from that version into the
warehouse (delete the day + insert + stamp the version, one transaction), and only then swapped
into the lake. A failure or a kill before the warehouse commit leaves the previous day in both.
A kill between that commit and the swap leaves the warehouse on a version the lake never got:
the stamp shows it, and every write of the table ends by reloading such days from the lake's
current version (`repair`), the lake being the source of truth; the asset check
`warehouse_matches_lake` (assets/lake_warehouse.py) names them meanwhile.
Inputs are handed over as `LakeDays` (paths, read lazily), whoever wrote the upstream table.
"""

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa

from assets.core.lake_days import LakeDays, parquet_rows
from assets.lake_warehouse import disagreeing_days
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
                rows = self.warehouse.replace_partition(zone, table, partition_column, day, staged, staged.name)
        return rows

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

    def handle_output(self, context: dg.OutputContext, obj: Mapping[date, object]) -> None:
        zone, table = context.asset_key.path
        days = sorted(date.fromisoformat(key) for key in context.asset_partition_keys)
        if not isinstance(obj, Mapping) or sorted(obj) != days:
            got = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
            raise TypeError(f"{zone}/{table}: expected one frame per day {days}, got {got}")
        column = (context.definition_metadata or {}).get("partition_column")
        written = {day.isoformat(): self.replace_day(zone, table, day, obj[day], column) for day in days}
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
