"""Landing a day's messages in the raw zone: read ranges of the topic, keep the day's
messages, merge them into the day's offset blocks (assets/landed_files.py) and dead-letter
once each message that does not decode or validate. No Dagster here: the asset is landing.py.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime

from assets.core.codec import json_text
from assets.core.days import day_window, last_complete_day, record_day
from assets.core.lake_days import parquet_rows
from assets.core.memory import gc_paused
from assets.core.stream import OffsetRange, TopicLog
from assets.held import hold, release_held
from assets.landed_files import BLOCK, block_name, block_ranges, dead_letter_once, locked, merge_new
from assets.log_history import blocks_of, refuse_committed_beyond_end, refuse_other_block, stamped
from assets.ports import Lake
from assets.raw_records import landed_table, rejected_table

# Records read at once in whole-day mode: bounds memory on million-message days.
CHUNK = 100_000


class NothingToLand(Exception):
    """A whole-day read found none of a day's messages although the day has landed rows."""


def whole_day_ranges(kafka: TopicLog, topic: str, day: date, chunk: int = CHUNK) -> list[OffsetRange]:
    """Every offset that may hold a message of `day`: from the first message stamped at or
    after the day's start to the end of each partition (event times are not ordered within a
    partition, so a later offset can still belong to the day)."""
    start, _ = day_window(day)
    ends = kafka.end_offsets(topic)
    if not ends:  # no such topic (any more)
        return []
    firsts = kafka.offsets_for_time(topic, int(start.timestamp() * 1000))
    return [
        OffsetRange(topic, p, lower, min(lower + chunk, ends[p]))
        for p in sorted(ends)
        for lower in range(firsts.get(p, ends[p]), ends[p], chunk)
    ]


def land_block(
    kafka: TopicLog, lake: Lake, table: str, day: date, r: OffsetRange, last_day: date, topic_id: str | None = None
) -> Counter:
    """Land the `day` records of `r` (within one block), its files stamped with the log's
    `topic_id`, and hold its records of days that are not partitions yet (assets/held.py);
    counts of what was seen and added."""
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
    name = block_name(r.topic, r.partition, r.start // BLOCK)
    if good:
        with locked(lake, table, day, name):
            # Checked again under the lock: another history's run may have written it meanwhile.
            refuse_other_block(lake, table, day, name, r, topic_id)
            rows = stamped(landed_table(good, datetime.now(UTC)), topic_id)
            counts["added"] += merge_new(lake, table, day, name, rows)
    dead_letter(kafka, lake, table, day, name, r, bad, topic_id, counts)
    for its_day, (its_good, its_bad) in sorted(later.items()):
        # A day that is not a partition yet: its valid messages wait in the raw zone's holding
        # area, its poison ones are dead-lettered now, so nothing of it holds the commit back.
        counts["deferred"] += len(its_good) + len(its_bad)
        if its_good:
            counts["held"] += hold(
                lake, table, its_day, name, stamped(landed_table(its_good, datetime.now(UTC)), topic_id)
            )
        dead_letter(kafka, lake, table, its_day, name, r, its_bad, topic_id, counts)
    counts.update(landed=len(good), rejected=len(bad))
    return counts


def dead_letter(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    day: date,
    name: str,
    r: OffsetRange,
    bad: list,
    topic_id: str | None,
    counts: Counter,
) -> None:
    if not bad:
        return
    rejects = f"{table}_rejected"
    with locked(lake, rejects, day, name):
        refuse_other_block(lake, rejects, day, name, r, topic_id)
        counts["dead_lettered"] += dead_letter_once(
            kafka,
            lake,
            rejects,
            day,
            name,
            stamped(rejected_table(bad), topic_id),
            {r.offset: (r, why) for r, why in bad},
        )


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
    (`held`: how many of them this call added to the holding area, assets/held.py), `released`
    the day's held messages moved into the day's partition by this call.

    Refuses (LogHistoryLost, before anything is written) a log that is not the history the raw
    day's blocks, or `group`'s committed offsets, were landed from (assets/log_history.py)."""
    last_day = last_day or last_complete_day()
    counts: Counter = Counter()
    ranges = list(ranges)
    topic_ids = {topic: kafka.topic_id(topic) for topic in {r.topic for r in ranges}}
    for topic in topic_ids if group else ():
        refuse_committed_beyond_end(kafka, group, topic)
    for r, name in blocks_of(ranges, BLOCK, block_name):
        for t in (table, f"{table}_rejected"):
            refuse_other_block(lake, t, day, name, r, topic_ids[r.topic])
    # Messages of the day landed before it was a partition: moved in by every landing of it.
    counts["released"] = release_held(lake, table, day)
    for r in ranges:
        for piece in block_ranges(r):
            counts.update(land_block(kafka, lake, table, day, piece, last_day, topic_ids[r.topic]))
    reasons = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("reason:")}
    totals = {
        k: counts[k]
        for k in (
            "landed",
            "added",
            "rejected",
            "dead_lettered",
            "deferred",
            "held",
            "released",
            "other_days",
            "ranges",
        )
    }
    return {**totals, "dead_letter_reasons": reasons, "covered": covered_offsets(ranges)}


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
    if counts["landed"] + counts["rejected"] + counts["released"] == 0 and before:
        raise NothingToLand(
            f"{topic} holds no message of {day} (retention passed, or the topic was recreated), but"
            f" raw/{table}/day={day} holds {before} rows: kept as they are, nothing downstream rebuilt"
        )
    return counts
