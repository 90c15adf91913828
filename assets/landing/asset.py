"""The consumer side of the topics: land Kafka messages in the lake's raw zone, by day.

A run lands either the offset ranges its sensor named (run config, config.py) or, when
started without ranges (CLI, schedule, UI), every message of the day that the topic holds,
found by timestamp (ranges.py). Landing is keyed by message identity (write.py): whatever the cuts, retries and replays, each offset is one raw row,
and each message that does not decode or validate is one rejects row (with its reason) and one
DLQ message, so landed + rejected accounts for every message. Landing only adds: a whole-day
run that reads nothing for a day whose raw partition holds rows (retention passed, a recreated
topic) fails instead of emptying it.
"""

from collections import Counter
from datetime import date

import dagster as dg

from assets.core.stream import TopicLog
from assets.landing.config import LandingConfig, ranges_from_config
from assets.landing.day import NothingToLand, land_ranges, land_whole_days, raw_rows
from assets.landing.decode import LANDED
from assets.landing.legacy import LegacyLayout, refuse_legacy
from assets.log_history import LogHistoryLost
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake
from assets.topics import LANDING_GROUP, topic_key


def land_day(kafka: TopicLog, lake: Lake, table: str, topic: str, day: date, config: LandingConfig) -> dict:
    return land_days(kafka, lake, table, topic, [day], config)[day]


def land_days(
    kafka: TopicLog, lake: Lake, table: str, topic: str, days: list[date], config: LandingConfig
) -> dict[date, dict]:
    """The run's days landed, each its counts; whole days from one read of the topic."""
    try:
        for day in days:
            refuse_legacy(lake, table, day)
            refuse_legacy(lake, f"{table}_rejected", day)
    except LegacyLayout as error:
        raise dg.Failure(str(error)) from error
    try:
        if config.ranges:
            ranges = ranges_from_config(topic, config)
            per_day = {day: land_ranges(kafka, lake, table, day, ranges, group=LANDING_GROUP) for day in days}
        else:
            per_day = land_whole_days(kafka, lake, table, topic, days, group=LANDING_GROUP)
    except (NothingToLand, LogHistoryLost) as error:
        raise dg.Failure(str(error)) from error
    for day in days:
        if not lake.read_days("raw", table, [day]).files(day):
            # A day without a valid message still reads as an empty table downstream.
            lake.write_file("raw", table, day, f"{topic}-empty", LANDED, [])
    return per_day


def landing_asset(topic: str, table: str, group: str, description: str) -> dg.AssetsDefinition:
    """The landing asset of one topic: `raw/<table>`, one daily partition per event day.

    It writes through the lake itself (blocks merged by offset, each merge a new version of the
    day, never a day replaced); readers
    downstream take it through the lake IO manager (`lake_input`) like every other table."""

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
        for day, counts in land_days(kafka, lake, table, topic, partition_days(context), config).items():
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
