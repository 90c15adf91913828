"""Which offsets a landing reads: the run's ranges, or every offset that may hold a message of
the day, cut at the raw zone's block boundaries so each piece lands in one block file.

A day's messages of one Kafka partition live in files of fixed offset blocks,
`<topic>-p<partition>-b<block>.parquet` (offsets [block * BLOCK, (block + 1) * BLOCK)): the
raw zone is keyed by message identity (topic, partition, offset), not by the run's cut.
"""

from collections.abc import Iterable
from datetime import date
from itertools import pairwise

from assets.core.days import day_window
from assets.core.stream import OffsetRange, TopicLog

# Offsets per block: bounds what one merge rewrites, on million-message days too.
BLOCK = 100_000
# Records read at once in whole-day mode: bounds memory on million-message days.
CHUNK = 100_000


def block_name(topic: str, partition: int, block: int) -> str:
    return f"{topic}-p{partition}-b{block:07d}"


def block_ranges(r: OffsetRange) -> list[OffsetRange]:
    """`r` cut at block boundaries, so each piece merges into one block file."""
    cuts = range((r.start // BLOCK + 1) * BLOCK, r.end, BLOCK)
    bounds = [r.start, *cuts, r.end]
    return [OffsetRange(r.topic, r.partition, a, b) for a, b in pairwise(bounds) if a < b]


def whole_day_ranges(kafka: TopicLog, topic: str, day: date, chunk: int = CHUNK) -> list[OffsetRange]:
    """Every offset that may hold a message of `day`: from the first message stamped at or
    after the day's start to the end of each partition (event times are not ordered within a
    partition, so a later offset can still belong to the day)."""
    return whole_days_ranges(kafka, topic, [day], chunk)[day]


def whole_days_ranges(
    kafka: TopicLog, topic: str, days: Iterable[date], chunk: int = CHUNK
) -> dict[date, list[OffsetRange]]:
    """`whole_day_ranges` of each of `days`, against one reading of the partitions' ends: the
    days' ranges all end where the topic did, so one read of their union serves them all."""
    ends = kafka.end_offsets(topic)
    found = {}
    for day in days:
        start, _ = day_window(day)
        firsts = kafka.offsets_for_time(topic, int(start.timestamp() * 1000)) if ends else {}
        found[day] = chunked(topic, {p: firsts.get(p, end) for p, end in ends.items()}, ends, chunk)
    return found


def union_ranges(topic: str, ranges: Iterable[OffsetRange], chunk: int = CHUNK) -> list[OffsetRange]:
    """The offsets of `topic`'s `ranges`, from each partition's lowest start to its highest end,
    chunked: one read for the whole-day ranges of several days (each runs to the partition's end)."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for r in ranges:
        starts[r.partition] = min(starts.get(r.partition, r.start), r.start)
        ends[r.partition] = max(ends.get(r.partition, r.end), r.end)
    return chunked(topic, starts, ends, chunk)


def chunked(topic: str, starts: dict[int, int], ends: dict[int, int], chunk: int) -> list[OffsetRange]:
    return [
        OffsetRange(topic, p, lower, min(lower + chunk, ends[p]))
        for p in sorted(ends)
        for lower in range(starts.get(p, ends[p]), ends[p], chunk)
    ]


def covered_offsets(ranges: Iterable[OffsetRange]) -> dict[str, list[list[int]]]:
    """The offsets a landing read, per partition, as merged [start, end) pairs: the landing's
    declaration of what it has seen, which the loss accounting holds the raw zone to."""
    merged: dict[int, list[list[int]]] = {}
    for r in sorted(ranges, key=lambda r: (r.partition, r.start)):
        spans = merged.setdefault(r.partition, [])
        if spans and r.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], r.end)
        elif r.end > r.start:
            spans.append([r.start, r.end])
    return {str(p): spans for p, spans in merged.items() if spans}
