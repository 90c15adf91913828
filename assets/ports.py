"""What the assets need from their resources, as protocols.

Assets sit below the orchestration layer and must not import it; the code location binds
these ports to real resources per profile, and tests bind them to anything that fits.
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
from pyspark.sql import SparkSession


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


class Lake(Protocol):
    def partition_dir(self, zone: str, table: str, day: date) -> Path: ...

    def write_partition(
        self, zone: str, table: str, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch]
    ) -> int: ...


class Warehouse(Protocol):
    def replace_partition(
        self, schema: str, table: str, partition_column: str, day: date, parquet_dir: Path
    ) -> int: ...


class Spark(Protocol):
    def get_session(self) -> SparkSession: ...
