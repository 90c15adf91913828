"""A block's records read, decoded and validated: the day's raw rows, its rejects (with their
reason), and the messages of days that are not partitions yet. The raw zone's row schemas."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa

from assets.core.codec import json_text
from assets.core.days import record_day
from assets.core.memory import gc_paused
from assets.core.stream import OffsetRange, Record, TopicLog

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
        # False between recording the reject and its DLQ publish: see write.py.
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


@dataclass
class Decoded:
    """One block's records of the landed day and of days after the newest partition."""

    rows: pa.Table  # the day's valid messages, as raw rows
    rejects: list[tuple[Record, str]]  # the day's invalid messages, with their reason
    later: dict[date, tuple[pa.Table, list[tuple[Record, str]]]] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)


def decode_block(kafka: TopicLog, r: OffsetRange, day: date, last_day: date) -> Decoded:
    """The records of `r` (within one block) that belong to `day`, or to a day after `last_day`
    (not a partition yet); records of other partition days are counted and left to their day."""
    counts: Counter = Counter(ranges=1)
    good, bad = [], []
    later: dict[date, tuple[list, list]] = {}
    with gc_paused():  # up to a block of records, parsed: see assets/core/memory.py
        for record in kafka.read_range(r):
            its_day = record_day(record)
            if its_day != day and its_day <= last_day:
                counts["other_days"] += 1
                continue
            _, reason = kafka.decode(record)
            into = (good, bad) if its_day == day else later.setdefault(its_day, ([], []))
            if reason is None:
                into[0].append((record, json_text(record.value)))
            else:
                into[1].append((record, reason))
                counts[f"reason:{reason.split(':')[0]}"] += 1
    now = datetime.now(UTC)
    return Decoded(
        landed_table(good, now),
        bad,
        {d: (landed_table(g, now), b) for d, (g, b) in later.items()},
        counts,
    )
