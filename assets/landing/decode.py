"""The rows of the raw zone: landed messages and rejects, and their schemas."""

from datetime import datetime

import pyarrow as pa

from assets.core.stream import Record

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


def landed_table(good: list[tuple[Record, str]], ingested_at: datetime) -> pa.Table:
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


def rejected_table(bad: list[tuple[Record, str]]) -> pa.Table:
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
