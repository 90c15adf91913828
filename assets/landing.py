"""The consumer side of the topics: land Kafka messages in the lake's raw zone, by day.

A run lands either the offset ranges its sensor named (run config) or, when started without
ranges (CLI, schedule, UI), every message of the day that the topic holds, found by
timestamp. Landing is keyed by message identity (assets/landed_files.py): whatever the cuts,
retries and replays, each offset is one raw row, and each message that does not decode or
validate is one rejects row (with its reason) and one DLQ message, so landed + rejected
accounts for every message. Landing only adds: a whole-day run that reads nothing for a day
whose raw partition holds rows (retention passed, a recreated topic) fails instead of emptying it.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime

import dagster as dg
import pyarrow.parquet as pq

from assets.landed_files import (
    BLOCK,
    block_name,
    block_ranges,
    dead_letter_once,
    fold_legacy,
    locked,
    merge_new,
)
from assets.partitions import daily_partitions, day_window, partition_days, single_run
from assets.ports import KafkaRange, Lake, TopicLog

# LANDED is imported from here by other modules too.
from assets.raw_records import LANDED, REJECTED, json_text, landed_table, record_day, rejected_table
from assets.topics import OPENAQ_TOPIC, USERS_TOPIC, topic_key

# Records read at once in whole-day mode: bounds memory on million-message days.
CHUNK = 100_000


class NothingToLand(Exception):
    """A whole-day read found none of a day's messages although the day has landed rows."""


class OffsetRangeConfig(dg.Config):
    partition: int
    start: int
    end: int


class LandingConfig(dg.Config):
    """Ranges to land (set by the topic sensor); empty means the whole partition day."""

    ranges: list[OffsetRangeConfig] = []


def whole_day_ranges(kafka: TopicLog, topic: str, day: date, chunk: int = CHUNK) -> list[KafkaRange]:
    """Every offset that may hold a message of `day`: from the first message stamped at or
    after the day's start to the end of each partition (event times are not ordered within a
    partition, so a later offset can still belong to the day)."""
    start, _ = day_window(day)
    ends = kafka.end_offsets(topic)
    if not ends:  # no such topic (any more)
        return []
    firsts = kafka.offsets_for_time(topic, int(start.timestamp() * 1000))
    return [
        KafkaRange(topic, p, lower, min(lower + chunk, ends[p]))
        for p in sorted(ends)
        for lower in range(firsts.get(p, ends[p]), ends[p], chunk)
    ]


def land_block(kafka: TopicLog, lake: Lake, table: str, day: date, r: KafkaRange, last_day: date) -> Counter:
    """Land the `day` records of `r` (within one block); counts of what was seen and added."""
    counts: Counter = Counter(ranges=1)
    good, bad = [], []
    for record in kafka.read_range(r):
        record_day_ = record_day(record)
        if record_day_ != day:
            counts["deferred" if record_day_ > last_day else "other_days"] += 1
            continue
        _, reason = kafka.decode(record)
        if reason is None:
            good.append((record, json_text(record.value)))
        else:
            bad.append((record, reason))
            counts[f"reason:{reason.split(':')[0]}"] += 1
    name = block_name(r.topic, r.partition, r.start // BLOCK)
    if good:
        with locked(lake, table, day, name):
            counts["added"] += merge_new(lake, table, day, name, landed_table(good, datetime.now(UTC)))
    if bad:
        rejects = f"{table}_rejected"
        with locked(lake, rejects, day, name):
            counts["dead_lettered"] += dead_letter_once(
                kafka, lake, rejects, day, name, rejected_table(bad), {r.offset: (r, why) for r, why in bad}
            )
    counts.update(landed=len(good), rejected=len(bad))
    return counts


def land_ranges(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    day: date,
    ranges: Iterable[KafkaRange],
    last_day: date | None = None,
) -> dict:
    """Land the `day` records of each range; returns counts for the materialization: `landed`
    and `rejected` are the day's messages seen in the ranges, `added` and `dead_lettered` what
    this call wrote for the first time, `deferred` messages of days that are not partitions yet."""
    last_day = last_day or last_partition_day()
    counts: Counter = Counter()
    for r in ranges:
        for piece in block_ranges(r):
            counts.update(land_block(kafka, lake, table, day, piece, last_day))
    reasons = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("reason:")}
    totals = {
        k: counts[k] for k in ("landed", "added", "rejected", "dead_lettered", "deferred", "other_days", "ranges")
    }
    return {**totals, "dead_letter_reasons": reasons}


def last_partition_day() -> date:
    return date.fromisoformat(daily_partitions.get_last_partition_key())


def raw_rows(lake: Lake, table: str, day: date) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in lake.partition_dir("raw", table, day).glob("*.parquet"))


def land_whole_day(kafka: TopicLog, lake: Lake, table: str, topic: str, day: date) -> dict:
    before = raw_rows(lake, table, day)
    counts = land_ranges(kafka, lake, table, day, whole_day_ranges(kafka, topic, day))
    if counts["landed"] + counts["rejected"] == 0 and before:
        raise NothingToLand(
            f"{topic} holds no message of {day} (retention passed, or the topic was recreated), but"
            f" raw/{table}/day={day} holds {before} rows: kept as they are, nothing downstream rebuilt"
        )
    return counts


def ranges_from_config(topic: str, config: LandingConfig) -> list[KafkaRange]:
    return [KafkaRange(topic, r.partition, r.start, r.end) for r in config.ranges]


def landing_asset(topic: str, table: str, group: str, description: str) -> dg.AssetsDefinition:
    """The landing asset of one topic: `raw/<table>`, one daily partition per event day."""

    @dg.asset(
        key=["raw", table],
        deps=[topic_key(topic)],
        description=description,
        group_name=group,
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"kafka", "parquet"},
    )
    def _land(
        context: dg.AssetExecutionContext,
        config: LandingConfig,
        kafka: dg.ResourceParam[TopicLog],
        lake: dg.ResourceParam[Lake],
    ) -> dg.MaterializeResult:
        per_day = {}
        for day in partition_days(context):
            fold_legacy(lake, table, day, LANDED)
            fold_legacy(lake, f"{table}_rejected", day, REJECTED)
            if config.ranges:
                counts = land_ranges(kafka, lake, table, day, ranges_from_config(topic, config))
            else:
                try:
                    counts = land_whole_day(kafka, lake, table, topic, day)
                except NothingToLand as error:
                    raise dg.Failure(str(error)) from error
            if not any(lake.partition_dir("raw", table, day).glob("*.parquet")):
                # A day without a valid message still reads as an empty table downstream.
                lake.write_file("raw", table, day, f"{topic}-empty", LANDED, [])
            per_day[day.isoformat()] = counts
            context.log.info(f"landed {topic} {day}: {counts}")
        totals = Counter()
        for counts in per_day.values():
            totals.update({k: v for k, v in counts.items() if isinstance(v, int)})
        return dg.MaterializeResult(
            metadata={
                # Counted from the files: the day's rows, whatever earlier runs already landed.
                "dagster/row_count": sum(raw_rows(lake, table, date.fromisoformat(d)) for d in per_day),
                "landed": totals["landed"],
                "added": totals["added"],
                "rejected": totals["rejected"],
                "dead_lettered": totals["dead_lettered"],
                "deferred": totals["deferred"],
                "mode": "ranges" if config.ranges else "whole day",
                "ranges": [r.run_key() for r in ranges_from_config(topic, config)],
                "per_day": per_day,
            }
        )

    return _land


openaq_measurements_landing = landing_asset(
    OPENAQ_TOPIC,
    "openaq_measurements",
    "openaq",
    "OpenAQ measurement messages of the day as received from `openaq.measurements`, with their Kafka coordinates.",
)
randomuser_users_landing = landing_asset(
    USERS_TOPIC,
    "randomuser_users",
    "users",
    "randomuser.me user messages of the day as received from `randomuser.users` (credentials included: they never leave this zone).",
)
