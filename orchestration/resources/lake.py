"""The lake: Parquet tables partitioned by UTC day under one root directory.

The root is a local disk in the local profile and a volume shared with the Spark workers in
prod. Layout: ``<root>/<zone>/<table>/day=YYYY-MM-DD/*.parquet``.
"""

import shutil
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

# Rows per Parquet row group: a reader holds a whole row group's column in memory, and raw
# payload columns are wide.
ROW_GROUP_ROWS = 20_000


class LakeResource(dg.ConfigurableResource):
    """Paths of the lake's zones and an atomic day-partition writer for Python producers."""

    root: str

    def partition_dir(self, zone: str, table: str, day: date) -> Path:
        return Path(self.root) / zone / table / f"day={day.isoformat()}"

    def write_partition(
        self,
        zone: str,
        table: str,
        day: date,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> int:
        """Replace one day of a table with `batches`; returns the rows written.

        Writes into a staging directory and swaps it in, so a failed or repeated run never
        leaves a half-written or doubled partition behind.
        """
        final = self.partition_dir(zone, table, day)
        staging = Path(self.root) / "_staging" / f"{zone}.{table}.{day}.{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        rows = 0
        try:
            with pq.ParquetWriter(staging / "part-0.parquet", schema) as writer:
                for batch in batches:
                    writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                    rows += batch.num_rows
            _swap_in(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return rows


    def write_file(
        self,
        zone: str,
        table: str,
        day: date,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> int:
        """Write (or overwrite) one named file of a day partition, atomically; returns rows.

        Consumers that land a slice of a stream name the file after the slice, so a retry
        replaces its own file and never adds a second copy.
        """
        directory = self.partition_dir(zone, table, day)
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{name}.{uuid.uuid4().hex}.tmp"
        rows = 0
        try:
            with pq.ParquetWriter(temporary, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                    rows += batch.num_rows
            temporary.rename(directory / f"{name}.parquet")
        finally:
            temporary.unlink(missing_ok=True)
        return rows


def _swap_in(staging: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    retired = staging.with_name(staging.name + ".retired")
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)
