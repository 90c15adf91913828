"""A lake table's days as a run reads them: what the lake IO manager hands an asset's input.

Lazy (paths only) and the one place that lists the lake, a table's days or a day's files, so
no asset globs it (tests/assets/test_core_is_pure.py holds them to that). A day is a directory
of Parquet files (`<root>/<zone>/<table>/day=YYYY-MM-DD`, a link to its current version: see
orchestration/resources/lake.py).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DAY_PREFIX = "day="


def day_name(day: date) -> str:
    """A day's directory name in its table."""
    return f"{DAY_PREFIX}{day.isoformat()}"


def listed_days(table_dir: Path) -> list[date]:
    """The days a table holds: its `day=` links. A version directory is not one: its name starts
    with a dot, which the pattern does not match."""
    if not table_dir.is_dir():
        return []
    return sorted(date.fromisoformat(p.name.removeprefix(DAY_PREFIX)) for p in table_dir.glob(f"{DAY_PREFIX}*"))


def parquet_files(directory: Path) -> list[str]:
    """The day's files, pinned to the version its link points at now: a later swap retires that
    version but leaves it at its path for a grace period, so the files listed here stay readable."""
    if not directory.is_dir():
        return []
    return sorted(str(p) for p in directory.resolve().glob("*.parquet"))


def parquet_rows(directory: Path) -> int:
    """Row count from the Parquet footers: no data is read."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(directory))


@dataclass(frozen=True)
class LakeDays:
    zone: str
    table: str
    directories: dict[date, Path]

    @property
    def days(self) -> list[date]:
        return sorted(self.directories)

    def path(self, day: date) -> str:
        """The day's directory, for readers that take one (`spark.read.parquet`)."""
        return str(self.directories[day])

    def files(self, day: date) -> list[str]:
        return parquet_files(self.directories[day])

    def rows(self, day: date) -> int:
        return parquet_rows(self.directories[day])

    def batches(
        self, day: date, columns: Sequence[str] | None = None, batch_size: int = 5_000
    ) -> Iterator[pa.RecordBatch]:
        files = self.files(day)
        if files:
            columns = list(columns) if columns is not None else None
            import pyarrow.dataset as pa_ds  # here, not at load: it imports pandas (~1.5 s)

            yield from pa_ds.dataset(files, format="parquet").to_batches(columns=columns, batch_size=batch_size)

    def read(self, day: date, columns: Sequence[str] | None = None) -> pa.Table:
        files = self.files(day)
        if not files:
            raise FileNotFoundError(f"{self.zone}/{self.table} has no files for {day}")
        import pyarrow.dataset as pa_ds

        return pa_ds.dataset(files, format="parquet").to_table(columns=list(columns) if columns else None)
