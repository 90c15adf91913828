"""A block's records read, decoded and validated: the day's raw rows, its rejects (with their
reason), and the messages of days that are not partitions yet. The raw zone's row schemas."""

from bisect import bisect_left
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


@dataclass
class DecodedDays:
    """One block's records, read once for several whole-day landings."""

    days: dict[date, Decoded]  # per landed day, what decode_block of its part of the block gives (no `later`)
    later: dict[date, tuple[pa.Table, list[tuple[Record, str]]]]  # every record of the block of a later day


def decode_days(kafka: TopicLog, r: OffsetRange, firsts: dict[date, int], last_day: date) -> DecodedDays:
    """The records of `r` (within one block) read and decoded once, for the whole-day landings
    of several days: day D reads from `firsts[D]` on, so it gets what `decode_block` of
    [firsts[D], r.end) would give it, its own records and the counts of the others (each record
    of another partition day, each of a later day, with its reject reason, that it would have
    read). The later days' records are returned once, for the whole block."""
    good: dict[date, list] = {day: [] for day in firsts}
    bad: dict[date, list] = {day: [] for day in firsts}
    counts: dict[date, Counter] = {day: Counter() for day in firsts}
    seen, later_seen = [], []  # offsets of partition-day records, and of later-day ones
    later_reasons: list[tuple[int, str]] = []
    later: dict[date, tuple[list, list]] = {}
    with gc_paused():  # up to a block of records, parsed: see assets/core/memory.py
        for record in kafka.read_range(r):
            its_day = record_day(record)
            if its_day <= last_day:
                seen.append(record.offset)
                if record.offset < firsts.get(its_day, r.end):
                    continue  # not its day's, nor read by its day's own landing: other days' count
                into = (good[its_day], bad[its_day])
            else:
                later_seen.append(record.offset)
                into = later.setdefault(its_day, ([], []))
            _, reason = kafka.decode(record)
            if reason is None:
                into[0].append((record, json_text(record.value)))
                continue
            into[1].append((record, reason))
            key = f"reason:{reason.split(':')[0]}"
            if its_day <= last_day:
                counts[its_day][key] += 1
            else:
                later_reasons.append((record.offset, key))
    seen.sort()
    later_seen.sort()
    for day, first in firsts.items():
        read = len(seen) - bisect_left(seen, first)  # partition-day records the day's own landing reads
        counts[day]["other_days"] += read - len(good[day]) - len(bad[day])
        counts[day]["deferred"] += len(later_seen) - bisect_left(later_seen, first)
        counts[day].update(key for offset, key in later_reasons if offset >= first)
    now = datetime.now(UTC)
    return DecodedDays(
        {day: Decoded(landed_table(good[day], now), bad[day], {}, counts[day]) for day in firsts},
        {d: (landed_table(g, now), b) for d, (g, b) in later.items()},
    )
