"""The rows of the raw zone: landed messages and rejects, their schemas and event days."""

from datetime import UTC, date, datetime

import pyarrow as pa

from assets.partitions import daily_partitions
from assets.ports import KafkaRecord

LANDED = pa.schema(
    [
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_key", pa.string()),
        ("payload", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)
REJECTED = pa.schema(
    [
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("reason", pa.string()),
        # False between recording the reject and its DLQ publish: see landed_files.
        ("dead_lettered", pa.bool_()),
    ]
)
FIRST_DAY = daily_partitions.start.date()


def record_day(record: KafkaRecord) -> date:
    """The UTC day of a message's event time (its header, else its timestamp).

    An event older than the first partition has no day of its own; it lands in the first
    one, where the clean step quarantines it as outside its partition day: kept, with a
    reason, and its range can still be committed.
    """
    day = None
    header = record.headers.get("partition_day")
    if header:
        try:
            day = date.fromisoformat(header)
        except ValueError:
            pass
    if day is None:
        day = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).date()
    return max(day, FIRST_DAY)


def json_text(value: bytes) -> str:
    """The JSON text of a decoded value: as received, without the Schema Registry framing
    (magic byte 0 and the schema id; JSON text never starts with a NUL byte)."""
    return (value[5:] if value[:1] == b"\x00" else value).decode("utf-8")


def landed_table(good: list[tuple[KafkaRecord, str]], ingested_at: datetime) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "kafka_topic": [r.topic for r, _ in good],
            "kafka_partition": [r.partition for r, _ in good],
            "kafka_offset": [r.offset for r, _ in good],
            "kafka_key": [r.key for r, _ in good],
            "payload": [text for _, text in good],
            "event_time": [r.timestamp_ms for r, _ in good],
            "ingested_at": [ingested_at] * len(good),
        },
        schema=LANDED,
    )


def rejected_table(bad: list[tuple[KafkaRecord, str]]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "kafka_topic": [r.topic for r, _ in bad],
            "kafka_partition": [r.partition for r, _ in bad],
            "kafka_offset": [r.offset for r, _ in bad],
            "reason": [reason for _, reason in bad],
            "dead_lettered": [False] * len(bad),
        },
        schema=REJECTED,
    )
