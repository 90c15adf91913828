"""What the assets need from their resources, as protocols.

Assets sit below the orchestration layer and must not import it; the code location binds
these ports to real resources per profile, and tests bind them to anything that fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

if TYPE_CHECKING:  # pyspark is imported by the steps that run Spark, not by the code location
    from pyspark.sql import SparkSession

from assets.core.lake_days import LakeDays


class SensorLike(Protocol):
    sensor_id: int
    location_id: int


class MeasurementPageLike(Protocol):
    sensor: SensorLike
    page: int
    results: list[dict]
    rejected_reason: str | None
    raw_body: str | None


class OpenAQSource(Protocol):
    mode: str

    def fetch_locations(self) -> list[dict]: ...

    def fetch_measurement_pages(
        self, locations: Sequence[dict], start: datetime, end: datetime
    ) -> Iterator[MeasurementPageLike]: ...


class UserSource(Protocol):
    mode: str

    def fetch_users(self, day: date) -> Iterator[dict]: ...


class UpsertResultLike(Protocol):
    upserted: int
    matched: int
    rejected: list


class MeasurementStore(Protocol):
    def upsert_measurements(self, docs: Sequence[dict]) -> UpsertResultLike: ...

    def upsert_landed(self, batches: Iterable[Mapping[str, Sequence]]) -> UpsertResultLike:
        """`upsert_measurements` of the documents of landed rows, batch by batch (by column)."""
        ...

    def count(self, filter: dict | None = None) -> int: ...

    def count_ids(self, ids: Sequence[str]) -> int:
        """How many of the document ids `ids` the store holds."""
        ...


class UserStore(Protocol):
    def upsert_users(self, rows: Sequence[dict]) -> int: ...

    def count(self) -> int: ...

    def count_ids(self, ids: Sequence[str]) -> int:
        """How many of the user ids `ids` the store holds."""
        ...


class PartitionEdit(Protocol):
    """One day of a table under the lake's lock for the day; each change is swapped in whole."""

    directory: Path  # the day, to read: under the lock it is the current version

    def write_file(self, name: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int: ...

    def remove_file(self, name: str) -> None: ...


class Lake(Protocol):
    def partition_dir(self, zone: str, table: str, day: date) -> Path: ...

    def current_version(self, zone: str, table: str, day: date) -> str | None: ...

    def read_days(self, zone: str, table: str, days: Iterable[date]) -> LakeDays: ...

    def table_days(self, zone: str, table: str) -> list[date]: ...

    def write_file(
        self,
        zone: str,
        table: str,
        day: date,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> int: ...

    def edit_partition(self, zone: str, table: str, day: date) -> AbstractContextManager[PartitionEdit]:
        """The day under its lock, changed file by file (LakeResource.edit_partition)."""
        ...


class Warehouse(Protocol):
    def replace_partition(
        self, schema: str, table: str, partition_column: str, day: date, parquet_dir: Path, version: str | None = None
    ) -> int: ...

    def lake_versions(self, schema: str, table: str) -> dict[date, str]: ...

    def grant_read(self, schema: str, table: str) -> None:
        """Let the consumers' read-only role read this one table (a no-op where there are no roles)."""

    def query(self, sql: str) -> list[tuple]: ...


class Spark(Protocol):
    def get_session(self) -> SparkSession: ...
