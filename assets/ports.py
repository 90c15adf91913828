"""What the assets need from their resources, as protocols.

Assets sit below the orchestration layer and must not import it; the code location binds
these ports to real resources per profile, and tests bind them to anything that fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

if TYPE_CHECKING:  # pyspark is imported by the steps that run Spark, not by the code location
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


class UserSource(Protocol):
    mode: str

    def fetch_users(self, day: date) -> Iterator[dict]: ...


class UpsertResultLike(Protocol):
    upserted: int
    matched: int
    rejected: list


class MeasurementStore(Protocol):
    def upsert_measurements(self, docs: Sequence[dict]) -> UpsertResultLike: ...

    def count(self, filter: dict | None = None) -> int: ...


class UserStore(Protocol):
    def upsert_users(self, rows: Sequence[dict]) -> int: ...

    def count(self) -> int: ...


class Lake(Protocol):
    def partition_dir(self, zone: str, table: str, day: date) -> Path: ...

    def staged_partition(self, zone: str, table: str, day: date) -> AbstractContextManager[Path]: ...

    def write_file(
        self,
        zone: str,
        table: str,
        day: date,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> int: ...

    def write_partition(
        self, zone: str, table: str, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch]
    ) -> int: ...


class Warehouse(Protocol):
    def replace_partition(
        self, schema: str, table: str, partition_column: str, day: date, parquet_dir: Path
    ) -> int: ...


class Spark(Protocol):
    def get_session(self) -> SparkSession: ...


@dataclass(frozen=True)
class KafkaRange:
    """[start, end) of one topic partition: the slice one consumer run reads."""

    topic: str
    partition: int
    start: int
    end: int

    def run_key(self) -> str:
        return f"{self.topic}/{self.partition}/{self.start}-{self.end}"

    def file_name(self) -> str:
        return f"{self.topic}-p{self.partition}-{self.start:012d}-{self.end:012d}"


@dataclass(frozen=True)
class KafkaRecord:
    """A message as read from a topic. Something that never reached a topic (a malformed API
    page) is addressed the same way to be dead-lettered, with partition and offset -1."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int


@dataclass(frozen=True)
class TopicMessage:
    """One message to publish: keyed, JSON value, event time (tz-aware UTC) = its day."""

    key: str
    value: dict
    event_time: datetime


class ProduceResultLike(Protocol):
    produced: int
    dead_lettered: int
    offsets: dict[int, tuple[int, int]]


class TopicLog(Protocol):
    """A Kafka topic log: a real broker in prod, an embedded SQLite log locally."""

    def ensure_topic(self, topic: str) -> None: ...

    def produce(self, topic: str, messages: Iterable[TopicMessage], source: str) -> ProduceResultLike: ...

    def end_offsets(self, topic: str) -> dict[int, int]: ...

    def offsets_for_time(self, topic: str, ts_ms: int) -> dict[int, int]: ...

    def read_range(self, r: KafkaRange) -> list[KafkaRecord]: ...

    def decode(self, record: KafkaRecord) -> tuple[dict | None, str | None]: ...

    def dead_letter(self, record: KafkaRecord, reason: str) -> None: ...
