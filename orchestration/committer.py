"""The offset committer sensor: after successful runs, commits the landing group through what
the raw zone holds (the one commit rule, `assets/offsets.py`), and reports held-back ranges and
messages held past their day (orchestration/held_messages.py).

A plain sensor over the instance's run-status changes, not a run-status sensor: Dagster hands a
run-status sensor at most 5 finished runs per tick (DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT),
and each evaluation would commit again. Here one tick reads up to COMMIT_BATCH successes after
its cursor (a bounded, indexed query; never the whole run history) and commits once per topic.
Runs that land commit themselves in their last step (`kafka/<topic>_committed`); this covers
runs that selected the landing without it, and a run's commit that raced another.
"""

import json
import time
from dataclasses import dataclass, field

import dagster as dg

from assets.offsets import commit_landed
from assets.ports import Lake
from assets.streams import STREAMS
from orchestration.held_back import TOPICS, held_back, held_back_evaluation, threshold_seconds
from orchestration.held_messages import alert_days, held_overdue, overdue_evaluation
from orchestration.resources.kafka import KafkaUnavailable, TopicLog

# Run successes read per tick: thousands of runs a minute, within the tick's time limit.
COMMIT_BATCH = 1000
RAW_TABLES = {s.topic: s.table for s in STREAMS}


@dataclass
class CommitterCursor:
    after: int = -1  # the last run-status change read
    # topic -> the ranges and runs of its last held-back evaluation, so a change is reported once
    held: dict[str, str] = field(default_factory=dict)
    # topic -> the days and counts of its last overdue-held evaluation, likewise
    overdue: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, cursor: str | None) -> "CommitterCursor":
        if not cursor:
            return cls()
        raw = json.loads(cursor)
        return cls(raw["after"], raw.get("held", {}), raw.get("overdue", {}))

    def dump(self) -> str:
        return json.dumps({"after": self.after, "held": self.held, "overdue": self.overdue}, sort_keys=True)


def successes_after(instance: dg.DagsterInstance, after: int, limit: int | None = None) -> list[int]:
    """Storage ids of the next run successes after `after`, oldest first."""
    records = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(event_type=dg.DagsterEventType.RUN_SUCCESS, after_storage_id=after),
        limit=limit or COMMIT_BATCH,
        ascending=True,
    ).records
    return [r.storage_id for r in records]


def held_back_changes(instance, kafka: TopicLog, cursor: CommitterCursor) -> list[dg.AssetCheckEvaluation]:
    """The held-back check of every topic whose outcome changed since the last tick."""
    threshold, now, changed = threshold_seconds(), time.time(), []
    for topic in TOPICS:
        ranges = held_back(instance, kafka, topic, threshold, now)
        # The ranges and runs, not the minutes: a range still held back is not news every tick.
        outcome = ",".join(f"{r.range}@{r.day}:{r.failed_run_id}" for r in ranges) or "passed"
        if cursor.held.get(topic) != outcome:
            cursor.held[topic] = outcome
            changed.append(held_back_evaluation(topic, ranges, threshold))
    return changed


def overdue_changes(lake: Lake, cursor: CommitterCursor, now=None) -> list[dg.AssetCheckEvaluation]:
    """The overdue-held check of every topic whose outcome changed since the last tick: a
    listing of the holding area's days and their Parquet footers, no data read."""
    days, changed = alert_days(), []
    for topic, table in RAW_TABLES.items():
        late = held_overdue(lake, table, now, days)
        outcome = ",".join(f"{day}:{n}" for day, n in sorted(late.items())) or "passed"
        if cursor.overdue.get(topic) != outcome:
            cursor.overdue[topic] = outcome
            changed.append(overdue_evaluation(topic, late, days))
    return changed


@dg.sensor(
    name="kafka_offset_committer",
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Commits the landing group through what the raw zone holds after successful runs; "
    "reports ranges held back by failed runs (check no_range_held_back) and messages held past their "
    "day (check no_message_held_overdue).",
)
def kafka_offset_committer(
    context: dg.SensorEvaluationContext, kafka: dg.ResourceParam[TopicLog], lake: dg.ResourceParam[Lake]
):
    cursor = CommitterCursor.load(context.cursor)
    successes = successes_after(context.instance, cursor.after)
    committed, evaluations = {}, []
    try:
        if successes or context.cursor is None:
            for topic, table in RAW_TABLES.items():
                committed[topic] = commit_landed(kafka, lake, table, topic, context.log)
        evaluations = held_back_changes(context.instance, kafka, cursor) + overdue_changes(lake, cursor)
    except KafkaUnavailable as error:
        # The cursor stays: the same successes are read again, and committed, on a later tick.
        return dg.SkipReason(f"Kafka unavailable, commits wait: {error}")
    if successes:
        cursor.after = successes[-1]
    context.update_cursor(cursor.dump())
    summary = f"{len(successes)} run success(es) read; committed {committed or 'nothing new'}"
    if evaluations:
        return dg.SensorResult(asset_events=evaluations, skip_reason=summary)
    return dg.SkipReason(summary)
