"""The topic log's common interface and the pure helpers both implementations share.

`KafkaResource` (any Kafka-protocol broker) and `EmbeddedTopicLogResource` (one SQLite file for
the local profile) both satisfy `TopicLog`; sensors and assets depend on that alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

# The assets' port types, under the names this package has always used.
from assets.ports import KafkaRange as OffsetRange  # noqa: F401
from assets.ports import KafkaRecord as Record
from assets.ports import TopicMessage as OutgoingMessage
from orchestration.resources.kafka.contracts import Contract, contract_for

DLQ_SUFFIX = ".dlq"
# Confluent's Schema Registry wire format: magic byte 0 + 4-byte schema id, then the JSON.
_REGISTRY_MAGIC, _REGISTRY_PREFIX = 0, 5


class KafkaUnavailable(Exception):
    """The broker did not answer in time; a sensor turns this into a SkipReason."""


@dataclass(frozen=True)
class ProduceResult:
    produced: int
    dead_lettered: int
    offsets: dict[int, tuple[int, int]]  # partition -> (first, last) offset written by this call


class TopicLog(Protocol):
    def ensure_topic(self, topic: str) -> None: ...
    def produce(self, topic: str, messages: Iterable[OutgoingMessage], source: str) -> ProduceResult: ...
    def end_offsets(self, topic: str) -> dict[int, int]: ...
    def offsets_for_time(self, topic: str, ts_ms: int) -> dict[int, int]: ...
    def read_range(self, r: OffsetRange) -> list[Record]: ...
    def commit(self, group: str, r: OffsetRange) -> None: ...
    def committed(self, group: str, topic: str) -> dict[int, int]: ...
    def dead_letter(self, record: Record, reason: str) -> None: ...
    def topic_size(self, topic: str) -> int: ...


@dataclass(frozen=True)
class Prepared:
    """One message ready to write: to `topic`, or to its DLQ when `reason` is set."""

    topic: str
    key: str
    value: dict
    payload: bytes
    headers: dict[str, str]
    timestamp_ms: int
    reason: str | None


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def partition_for(key: str, partitions: int) -> int:
    # librdkafka's default partitioner (consistent_random) is CRC-32 of the key, so the embedded
    # log puts every key in the partition a Kafka producer from this repo would.
    return zlib.crc32(key.encode("utf-8")) % partitions


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
        raise ValueError(f"event_time must be tz-aware UTC, got {moment!r}")
    return int(moment.timestamp() * 1000)


def prepare(topic: str, message: OutgoingMessage, source: str) -> Prepared:
    """Validate against the topic's contract and build the payload, headers and timestamp."""
    contract = contract_for(topic)
    timestamp_ms = to_ms(message.event_time)
    headers = {
        "source": source,
        "schema_version": str(contract.version),
        "partition_day": message.event_time.date().isoformat(),
        "event_time": message.event_time.isoformat(),
    }
    reason = contract.error(message.value)
    if reason is not None:
        headers |= {"dlq_reason": reason, "original_topic": topic}
    # The same bytes as json.dumps(ensure_ascii=False, separators=(",", ":")), about 10x faster.
    payload = orjson.dumps(message.value)
    destination = topic if reason is None else dlq_topic(topic)
    return Prepared(destination, message.key, message.value, payload, headers, timestamp_ms, reason)


def dlq_headers(record: Record, reason: str) -> dict[str, str]:
    return record.headers | {
        "dlq_reason": reason,
        "original_topic": record.topic,
        "original_partition": str(record.partition),
        "original_offset": str(record.offset),
    }


def split_ranges(
    topic: str, start_offsets: Mapping[int, int], end_offsets: Mapping[int, int], max_batch: int
) -> list[OffsetRange]:
    """New ranges from the committed/cursor offsets up to the end offsets, at most `max_batch`
    messages each. A partition missing from `start_offsets` starts at 0; a start beyond the end
    (the topic was recreated) yields nothing rather than a range that can never be read."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    ranges = []
    for partition in sorted(end_offsets):
        start, end = start_offsets.get(partition, 0), end_offsets[partition]
        for lower in range(start, end, max_batch):
            ranges.append(OffsetRange(topic, partition, lower, min(lower + max_batch, end)))
    return ranges


def decode(record: Record, topic_contract: Contract | Mapping[str, Any]) -> tuple[dict | None, str | None]:
    """(value, None) for a record that parses and conforms, else (None, reason)."""
    contract = (
        topic_contract
        if isinstance(topic_contract, Contract)
        else Contract(topic=record.topic, version=0, schema=topic_contract)
    )
    raw = record.value
    if raw is None:
        return None, "empty value (tombstone)"
    if len(raw) > _REGISTRY_PREFIX and raw[0] == _REGISTRY_MAGIC:
        # Written through the Schema Registry serializer; JSON text never starts with a NUL byte.
        raw = raw[_REGISTRY_PREFIX:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    reason = contract.error(value)
    return (value, None) if reason is None else (None, reason)
