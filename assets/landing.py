"""The consumer side of the topics: land Kafka messages in the lake's raw zone, by day.

A run lands either the offset ranges its sensor named (run config) or, when started without
ranges (CLI, schedule, UI), every message of the day that the topic holds, found by
timestamp. Files are named after the range they hold, so a retry or a replay overwrites its
own file instead of adding a copy. A message that does not decode or validate is
dead-lettered with its reason once (the first time its range lands) and recorded in a
rejects file beside the landed ones, so landed + rejected accounts for every message.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timezone

import dagster as dg
import pyarrow as pa

from assets.partitions import daily_partitions, day_window, partition_days, single_run
from assets.ports import KafkaRange, Lake, KafkaRecord, TopicLog
from assets.topics import OPENAQ_TOPIC, USERS_TOPIC, topic_key

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
    ]
)
FIRST_DAY = daily_partitions.start.date()
# Records read and written per file in whole-day mode: bounds memory on million-message days.
CHUNK = 100_000


class OffsetRangeConfig(dg.Config):
    partition: int
    start: int
    end: int


class LandingConfig(dg.Config):
    """Ranges to land (set by the topic sensor); empty means the whole partition day."""

    ranges: list[OffsetRangeConfig] = []


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
        day = datetime.fromtimestamp(record.timestamp_ms / 1000, timezone.utc).date()
    return max(day, FIRST_DAY)


def whole_day_ranges(kafka: TopicLog, topic: str, day: date, chunk: int = CHUNK) -> list[KafkaRange]:
    """Every offset that may hold a message of `day`: from the first message stamped at or
    after the day's start to the end of each partition (event times are not ordered within a
    partition, so a later offset can still belong to the day)."""
    start, _ = day_window(day)
    firsts = kafka.offsets_for_time(topic, int(start.timestamp() * 1000))
    ends = kafka.end_offsets(topic)
    return [
        KafkaRange(topic, p, lower, min(lower + chunk, ends[p]))
        for p in sorted(ends)
        for lower in range(firsts.get(p, ends[p]), ends[p], chunk)
    ]


def split_records(
    records: Iterable[KafkaRecord], day: date, kafka: TopicLog
) -> tuple[list[tuple[KafkaRecord, str]], list[tuple[KafkaRecord, str]], int]:
    """(good records of `day` with their text, bad records of `day` with a reason, other days)."""
    good, bad, other_days = [], [], 0
    for record in records:
        if record_day(record) != day:
            other_days += 1
            continue
        _, reason = kafka.decode(record)
        if reason is None:
            good.append((record, record.value.decode("utf-8")))
        else:
            bad.append((record, reason))
    return good, bad, other_days


def landed_batch(good: list[tuple[KafkaRecord, str]], ingested_at: datetime) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
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


def rejected_batch(bad: list[tuple[KafkaRecord, str]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "kafka_topic": [r.topic for r, _ in bad],
            "kafka_partition": [r.partition for r, _ in bad],
            "kafka_offset": [r.offset for r, _ in bad],
            "reason": [reason for _, reason in bad],
        },
        schema=REJECTED,
    )


def land_ranges(
    kafka: TopicLog, lake: Lake, table: str, day: date, ranges: Iterable[KafkaRange]
) -> dict:
    """Land the `day` records of each range; returns counts for the materialization."""
    counts: Counter = Counter()
    reasons: Counter = Counter()
    rejects_table = f"{table}_rejected"
    for r in ranges:
        good, bad, other_days = split_records(kafka.read_range(r), day, kafka)
        if bad:
            rejects_file = lake.partition_dir("raw", rejects_table, day) / f"{r.file_name()}.parquet"
            if not rejects_file.exists():  # dead-letter once, not on every replay
                for record, reason in bad:
                    kafka.dead_letter(record, reason)
            lake.write_file("raw", rejects_table, day, r.file_name(), REJECTED, [rejected_batch(bad)])
        ingested_at = datetime.now(timezone.utc)
        lake.write_file("raw", table, day, r.file_name(), LANDED, [landed_batch(good, ingested_at)])
        counts.update(landed=len(good), dead_lettered=len(bad), other_days=other_days, ranges=1)
        reasons.update(reason.split(":")[0] for _, reason in bad)
    return {**counts, "dead_letter_reasons": dict(reasons)}


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
            if config.ranges:
                ranges = ranges_from_config(topic, config)
            else:
                # The whole day is authoritative: start the day's directory afresh (an empty
                # file, so a day without messages still reads as an empty table).
                lake.write_partition("raw", table, day, LANDED, [])
                ranges = whole_day_ranges(kafka, topic, day)
            per_day[day.isoformat()] = land_ranges(kafka, lake, table, day, ranges)
            context.log.info(f"landed {topic} {day}: {per_day[day.isoformat()]}")
        totals = Counter()
        for counts in per_day.values():
            totals.update({k: v for k, v in counts.items() if isinstance(v, int)})
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": totals["landed"],
                "landed": totals["landed"],
                "dead_lettered": totals["dead_lettered"],
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
