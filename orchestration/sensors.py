"""Kafka topic sensors: one per topic, from one factory, plus the offset committer.

A tick reads the topic's end offsets (bounded; a broker that is down gives a SkipReason in
seconds), cuts the new messages into ranges of at most `max_batch`, and requests one run per
range and event day: `run_key` = topic/partition/range@day, so each range is consumed once (a
range whose messages are all of future days: one run on the newest partition, which holds them).
Run config names offsets, never payloads. The cursor holds the next offset per partition and
the ranges whose messages of a future day wait for that day to become a partition.

The sensor never commits. Commits follow one rule (assets/offsets.py): contiguously through
what the raw zone holds, after a run succeeded, so a failed landing holds its partition back
until its retry lands it, and Kafka's lag tools tell the truth.
"""

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime

import dagster as dg

from assets.core.days import last_complete_day, record_day
from assets.core.stream import OffsetRange
from assets.topics import LANDING_GROUP, topic_key
from orchestration.kafka_tags import TAG_DAYS, TAG_RANGE, TAG_TOPIC_PARTITION  # noqa: F401 - re-exported
from orchestration.resources.kafka import KafkaUnavailable, TopicLog, dlq_topic, split_ranges


def record_days(records, last_day: date) -> tuple[list[str], dict[str, int]]:
    """(partition days the records belong to, {day that is not a partition yet: messages})."""
    days = Counter(record_day(r) for r in records)
    return sorted(d.isoformat() for d in days if d <= last_day), {
        d.isoformat(): n for d, n in sorted(days.items()) if d > last_day
    }


def run_requests_for_range(
    r: OffsetRange, days: Sequence[str], op_name: str, requested: Sequence[str]
) -> list[dg.RunRequest]:
    """Runs of `r` for the `requested` days; every one is tagged with all the range's `days`."""
    config = {"ops": {op_name: {"config": {"ranges": [{"partition": r.partition, "start": r.start, "end": r.end}]}}}}
    tags = {
        TAG_RANGE: r.run_key(),
        TAG_DAYS: ",".join(days),
        TAG_TOPIC_PARTITION: f"{r.topic}/{r.partition}",
    }
    return [
        dg.RunRequest(run_key=f"{r.run_key()}@{day}", partition_key=day, run_config=config, tags=tags)
        for day in requested
    ]


def topic_observation(kafka, topic: str, ends: dict[int, int], deferred: list) -> dg.AssetObservation:
    committed = kafka.committed(LANDING_GROUP, topic)
    lag = {p: end - committed.get(p, 0) for p, end in ends.items()}
    return dg.AssetObservation(
        asset_key=topic_key(topic),
        metadata={
            "end_offsets": {str(p): o for p, o in sorted(ends.items())},
            "committed_offsets": {str(p): o for p, o in sorted(committed.items())},
            "consumer_lag": sum(lag.values()),
            "dlq_size": kafka.topic_size(dlq_topic(topic)),
            # Messages of days that are not partitions yet: held by the raw zone once landed, their
            # day's run waiting in the cursor.
            "deferred_messages": sum(entry[4] for entry in deferred),
            "deferred_days": sorted({entry[3] for entry in deferred}),
        },
    )


def read_cursor(cursor: str | None) -> tuple[dict[int, int] | None, list]:
    """(next offset per partition, deferred [partition, start, end, day, messages, days])."""
    if not cursor:
        return None, []
    state = json.loads(cursor)
    if "offsets" not in state:  # the cursor before deferral: offsets only
        return {int(p): o for p, o in state.items()}, []
    return {int(p): o for p, o in state["offsets"].items()}, state["deferred"]


def evaluate_topic(
    cursor: str | None,
    kafka,
    topic: str,
    landing: dg.AssetsDefinition,
    max_batch: int,
    max_runs: int,
    now: datetime | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """One tick. A range's messages of a day that is not a partition yet (a clock in the future,
    or just past midnight) are deferred: the range's other days are requested now (the newest
    partition when it has none), and their landing holds the deferred messages in the raw
    zone's holding area, so the committer commits past them; the deferred day's run of the same
    range is requested once the day is a partition, and moves them into it. Every run of a range
    is tagged with all the range's event days."""
    last_day = last_complete_day(now)
    op_name = landing.op.name
    try:
        ends = kafka.end_offsets(topic)
        starts, deferred = read_cursor(cursor)
        starts = starts if starts is not None else kafka.committed(LANDING_GROUP, topic)
        requests: list[dg.RunRequest] = []
        waiting = []
        for p, start, end, day, messages, days in deferred:
            if date.fromisoformat(day) <= last_day and len(requests) < max_runs:
                requests.extend(run_requests_for_range(OffsetRange(topic, p, start, end), days, op_name, [day]))
            else:
                waiting.append([p, start, end, day, messages, days])
        next_offsets = {p: starts.get(p, 0) for p in ends}
        for r in split_ranges(topic, starts, ends, max_batch):
            if len(requests) >= max_runs or r.start != next_offsets[r.partition]:
                continue  # the rest waits for the next tick; the cursor stops before it
            days, future = record_days(kafka.read_range(r), last_day)
            every_day = sorted([*days, *future])
            # A range whose messages are all of future days is landed on the newest partition:
            # the landing holds them (assets/landing/held.py), so the committer commits past them now.
            requested = days or ([last_day.isoformat()] if future else [])
            requests.extend(run_requests_for_range(r, every_day, op_name, requested))
            waiting.extend([r.partition, r.start, r.end, day, n, every_day] for day, n in future.items())
            next_offsets[r.partition] = r.end
        observation = topic_observation(kafka, topic, ends, waiting)
    except KafkaUnavailable as error:
        # Also when the broker dies mid-tick: nothing requested, the cursor stays, the next tick redoes it.
        return dg.SkipReason(f"Kafka unavailable, nothing requested: {error}")
    state = {"offsets": {str(p): o for p, o in sorted(next_offsets.items())}, "deferred": waiting}
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(state), asset_events=[observation])


def topic_sensor(topic: str, landing: dg.AssetsDefinition, *, max_batch: int = 10_000, max_runs: int = 20):
    """The sensor of one topic: launches its landing asset alone, one cheap run per range; what
    the landing feeds follows once per changed day (orchestration/automation.py), and the
    committer commits the range after the run succeeded."""

    @dg.sensor(
        name=f"{topic.replace('.', '_')}_sensor",
        asset_selection=dg.AssetSelection.assets(landing),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Consumes new messages of `{topic}` in ranges of at most {max_batch}.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, kafka: dg.ResourceParam[TopicLog]
    ) -> dg.SensorResult | dg.SkipReason:
        return evaluate_topic(context.cursor, kafka, topic, landing, max_batch, max_runs)

    return _sensor
