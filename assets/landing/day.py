"""Landing one day's messages in the raw zone (or several whole days' from one read of the
topic): the package's steps, in order. The ranges to read (ranges.py), each block's records
decoded (decode.py), its rows and rejects written (write.py), its messages of later days held
(held.py). No Dagster here: the asset is asset.py.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import date

from assets.core.days import last_complete_day
from assets.core.lake_days import parquet_rows
from assets.core.stream import OffsetRange, TopicLog
from assets.landing.decode import decode_block, decode_days
from assets.landing.held import hold, release_held
from assets.landing.ranges import (
    BLOCK,
    block_name,
    block_ranges,
    covered_offsets,
    union_ranges,
    whole_day_ranges,
    whole_days_ranges,
)
from assets.landing.write import dead_letter, write_rows
from assets.log_history import blocks_of, refuse_committed_beyond_end, refuse_other_block, stamped
from assets.ports import Lake

TOTALS = ("landed", "added", "rejected", "dead_lettered", "deferred", "held", "released", "other_days", "ranges")


class NothingToLand(Exception):
    """A whole-day read found none of a day's messages although the day has landed rows."""


def land_block(
    kafka: TopicLog, lake: Lake, table: str, day: date, r: OffsetRange, last_day: date, topic_id: str | None = None
) -> Counter:
    """Land the `day` records of `r` (within one block), its files stamped with the log's
    `topic_id`, and hold its records of days that are not partitions yet (held.py); counts of
    what was seen and added."""
    decoded = decode_block(kafka, r, day, last_day)
    counts = decoded.counts
    name = block_name(r.topic, r.partition, r.start // BLOCK)
    counts["added"] += write_rows(lake, table, day, name, r, decoded.rows, topic_id)
    dead_letter(kafka, lake, table, day, name, r, decoded.rejects, topic_id, counts)
    for its_day, (rows, rejects) in sorted(decoded.later.items()):
        # A day that is not a partition yet: its valid messages wait in the raw zone's holding
        # area, its poison ones are dead-lettered now, so nothing of it holds the commit back.
        counts["deferred"] += rows.num_rows + len(rejects)
        counts["held"] += hold(lake, table, its_day, name, stamped(rows, topic_id))
        dead_letter(kafka, lake, table, its_day, name, r, rejects, topic_id, counts)
    counts.update(landed=decoded.rows.num_rows, rejected=len(decoded.rejects))
    return counts


def land_ranges(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    day: date,
    ranges: Iterable[OffsetRange],
    last_day: date | None = None,
    group: str | None = None,
) -> dict:
    """Land the `day` records of each range; returns counts for the materialization: `landed`
    and `rejected` are the day's messages seen in the ranges, `added` and `dead_lettered` what
    this call wrote for the first time, `deferred` messages of days that are not partitions yet
    (`held`: how many of them this call added to the holding area, held.py), `released`
    the day's held messages moved into the day's partition by this call.

    Refuses (LogHistoryLost, before anything is written) a log that is not the history the raw
    day's blocks, or `group`'s committed offsets, were landed from (assets/log_history.py)."""
    last_day = last_day or last_complete_day()
    counts: Counter = Counter()
    ranges = list(ranges)
    topic_ids = {topic: kafka.topic_id(topic) for topic in {r.topic for r in ranges}}
    for topic in topic_ids if group else ():
        refuse_committed_beyond_end(kafka, group, topic)
    refuse_other_blocks(lake, table, day, ranges, topic_ids)
    # Messages of the day landed before it was a partition: moved in by every landing of it.
    counts["released"] = release_held(lake, table, day)
    for r in ranges:
        for piece in block_ranges(r):
            counts.update(land_block(kafka, lake, table, day, piece, last_day, topic_ids[r.topic]))
    return summary(counts, ranges)


def refuse_other_blocks(
    lake: Lake, table: str, day: date, ranges: list[OffsetRange], topic_ids: dict[str, str | None]
) -> None:
    for r, name in blocks_of(ranges, BLOCK, block_name):
        for t in (table, f"{table}_rejected"):
            refuse_other_block(lake, t, day, name, r, topic_ids[r.topic])


def summary(counts: Counter, ranges: list[OffsetRange]) -> dict:
    reasons = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("reason:")}
    totals = {k: counts[k] for k in TOTALS}
    return {**totals, "dead_letter_reasons": reasons, "covered": covered_offsets(ranges)}


def raw_rows(lake: Lake, table: str, day: date) -> int:
    return parquet_rows(lake.partition_dir("raw", table, day))


def land_whole_day(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    topic: str,
    day: date,
    group: str | None = None,
    last_day: date | None = None,
) -> dict:
    before = raw_rows(lake, table, day)
    counts = land_ranges(kafka, lake, table, day, whole_day_ranges(kafka, topic, day), last_day, group=group)
    refuse_nothing_read(table, topic, day, counts, before)
    return counts


def refuse_nothing_read(table: str, topic: str, day: date, counts: dict, before: int) -> None:
    if counts["landed"] + counts["rejected"] + counts["released"] == 0 and before:
        raise NothingToLand(
            f"{topic} holds no message of {day} (retention passed, or the topic was recreated), but"
            f" raw/{table}/day={day} holds {before} rows: kept as they are, nothing downstream rebuilt"
        )


def land_whole_days(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    topic: str,
    days: list[date],
    group: str | None = None,
    last_day: date | None = None,
) -> dict[date, dict]:
    """`land_whole_day` of each of `days`, with the same rows, rejects, holds and counts per day,
    from ONE read of the topic: a day's whole-day read runs to the end of each partition, so
    landing the days one by one would read the newest messages once per day (O(days^2)).

    Each record is read and decoded once, over the union of the days' ranges; a day lands the
    records of its own that its own read would have seen, and counts the others it would have
    seen. A later day's records (not a partition yet) are held and dead-lettered once, counted
    as `held` and `dead_lettered` by the earliest day as its own landing would have. Every
    refusal (LogHistoryLost) is checked for every day before anything is written."""
    last_day = last_day or last_complete_day()
    days = sorted(days)
    if len(days) < 2 or days[-1] > last_day:
        # A run day that is no partition yet would have its held messages released by its own
        # landing after the earlier days held them again: only day by day gives that.
        return {day: land_whole_day(kafka, lake, table, topic, day, group, last_day) for day in days}
    ranges = whole_days_ranges(kafka, topic, days)
    before = {day: raw_rows(lake, table, day) for day in days}
    topic_id = kafka.topic_id(topic)
    if group:
        refuse_committed_beyond_end(kafka, group, topic)
    for day in days:
        refuse_other_blocks(lake, table, day, ranges[day], {topic: topic_id})
    counts = {day: Counter(released=release_held(lake, table, day)) for day in days}
    firsts = {day: {r.partition: r.start for r in reversed(ranges[day])} for day in days}
    for r in union_ranges(topic, [r for day in days for r in ranges[day]]):
        for piece in block_ranges(r):
            reading = {
                day: f[piece.partition] for day, f in firsts.items() if f.get(piece.partition, piece.end) < piece.end
            }
            land_block_days(kafka, lake, table, piece, reading, last_day, topic_id, counts)
    per_day = {}
    for day in days:
        counts[day]["ranges"] = sum(len(block_ranges(r)) for r in ranges[day])
        per_day[day] = summary(counts[day], ranges[day])
        refuse_nothing_read(table, topic, day, per_day[day], before[day])
    return per_day


def land_block_days(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    r: OffsetRange,
    firsts: dict[date, int],
    last_day: date,
    topic_id: str | None,
    counts: dict[date, Counter],
) -> None:
    """`land_block` for each day of `firsts` (the block's first offset its own read sees),
    from one read of `r` (within one block); adds to each day's `counts`."""
    if not firsts:
        return
    decoded = decode_days(kafka, r, firsts, last_day)
    name = block_name(r.topic, r.partition, r.start // BLOCK)
    for day, own in decoded.days.items():
        c = counts[day]
        c.update(own.counts)
        its = OffsetRange(r.topic, r.partition, max(r.start, firsts[day]), r.end)
        c["added"] += write_rows(lake, table, day, name, its, own.rows, topic_id)
        dead_letter(kafka, lake, table, day, name, its, own.rejects, topic_id, c)
        c.update(landed=own.rows.num_rows, rejected=len(own.rejects))
    earliest = counts[min(firsts, key=lambda day: (firsts[day], day))]
    for its_day, (rows, rejects) in sorted(decoded.later.items()):
        earliest["held"] += hold(lake, table, its_day, name, stamped(rows, topic_id))
        dead_letter(kafka, lake, table, its_day, name, r, rejects, topic_id, earliest)
