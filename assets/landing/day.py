"""Landing one day's messages in the raw zone: the package's steps, in order. The ranges to read
(ranges.py), each block's records decoded (decode.py), its rows and rejects written (write.py),
its messages of later days held (held.py). No Dagster here: the asset is asset.py.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import date

from assets.core.days import last_complete_day
from assets.core.lake_days import parquet_rows
from assets.core.stream import OffsetRange, TopicLog
from assets.landing.decode import decode_block
from assets.landing.held import hold, release_held
from assets.landing.ranges import BLOCK, block_name, block_ranges, covered_offsets, whole_day_ranges
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
    for r, name in blocks_of(ranges, BLOCK, block_name):
        for t in (table, f"{table}_rejected"):
            refuse_other_block(lake, t, day, name, r, topic_ids[r.topic])
    # Messages of the day landed before it was a partition: moved in by every landing of it.
    counts["released"] = release_held(lake, table, day)
    for r in ranges:
        for piece in block_ranges(r):
            counts.update(land_block(kafka, lake, table, day, piece, last_day, topic_ids[r.topic]))
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
    if counts["landed"] + counts["rejected"] + counts["released"] == 0 and before:
        raise NothingToLand(
            f"{topic} holds no message of {day} (retention passed, or the topic was recreated), but"
            f" raw/{table}/day={day} holds {before} rows: kept as they are, nothing downstream rebuilt"
        )
    return counts
