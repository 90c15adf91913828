"""Messages to and from the wire: `prepare` validates and frames a message for publishing,
`decode` parses and validates a consumed one; both against the topic's contract."""

import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from assets.core.contracts import Contract, contract_for
from assets.core.stream import Record, TopicMessage, dlq_topic

# Confluent's Schema Registry wire format: magic byte 0 + 4-byte schema id, then the JSON.
REGISTRY_MAGIC, REGISTRY_PREFIX = 0, 5


class Prepared(NamedTuple):
    """One message ready to write: to `topic`, or to its DLQ when `reason` is set. A tuple, not
    a frozen dataclass: every message of a pull is one, and its init was a sixth of `prepare`."""

    topic: str
    key: str
    value: dict
    payload: bytes
    headers: dict[str, str]
    timestamp_ms: int
    reason: str | None


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
        raise ValueError(f"event_time must be tz-aware UTC, got {moment!r}")
    return int(moment.timestamp() * 1000)


@functools.lru_cache(maxsize=8192)
def _time_fields(moment: datetime, offset: timedelta | None) -> tuple[int, str, str]:
    """A message's timestamp and its two time headers. A day's messages share a few hundred event
    times, so each is computed once. `offset` is part of the key because equal instants are
    equal datetimes: 01:00+01:00 must not take the fields of 00:00Z, it must be refused."""
    return to_ms(moment), moment.date().isoformat(), moment.isoformat()


def prepare(topic: str, message: TopicMessage, source: str) -> Prepared:
    """Validate against the topic's contract and build the payload, headers and timestamp."""
    contract = contract_for(topic)
    timestamp_ms, day, moment = _time_fields(message.event_time, message.event_time.utcoffset())
    headers = {
        "source": source,
        "schema_version": str(contract.version),
        "partition_day": day,
        "event_time": moment,
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


def unframed(value: bytes) -> bytes:
    """The JSON bytes of a value, without the Schema Registry framing when it has one (JSON
    text never starts with a NUL byte, so the magic byte cannot be mistaken)."""
    if len(value) > REGISTRY_PREFIX and value[0] == REGISTRY_MAGIC:
        return value[REGISTRY_PREFIX:]
    return value


def json_text(value: bytes) -> str:
    """The JSON text of a decoded value, as received."""
    return unframed(value).decode("utf-8")


def decode(record: Record, topic_contract: Contract | Mapping[str, Any]) -> tuple[dict | None, str | None]:
    """(value, None) for a record that parses and conforms, else (None, reason)."""
    contract = (
        topic_contract
        if isinstance(topic_contract, Contract)
        else Contract(topic=record.topic, version=0, schema=topic_contract)
    )
    if record.value is None:
        return None, "empty value (tombstone)"
    try:
        text = unframed(record.value).decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    reason = contract.error(value)
    return (value, None) if reason is None else (None, reason)
