"""Ranges held back: a partition whose committed offset sits in a range whose runs failed for good.

The committer never commits past a failed range (correctly), and the topic sensor's cursor has
moved on, so nothing would request it again and the partition's lag would only grow. This makes
it visible: the check `no_range_held_back` on each topic fails while a range has been held back
longer than HELD_BACK_ALERT_MINUTES, naming the range and the failed run (the committer evaluates
it on every tick, and it can be run by hand from the UI). Replaying the failed run (re-execute it:
the re-execution carries the range's tags) lets the committer move on.
"""

import os
import time
from dataclasses import asdict, dataclass

import dagster as dg

from assets.streams import STREAMS
from assets.topics import LANDING_GROUP, topic_key
from orchestration.kafka_tags import TAG_RANGE, TAG_TOPIC_PARTITION
from orchestration.resources.kafka import TopicLog

CHECK_NAME = "no_range_held_back"
# Failed runs looked at per partition: the one that matters started at the committed offset,
# and is among the partition's latest failures.
RECENT_FAILURES = 20
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def threshold_seconds() -> float:
    return float(os.getenv("HELD_BACK_ALERT_MINUTES", "30")) * 60


@dataclass(frozen=True)
class HeldBack:
    range: str
    day: str
    failed_run_id: str
    held_minutes: float


def _range_holds(key: str, offset: int) -> bool:
    start, end = key.rsplit("/", 1)[1].split("-")
    return int(start) <= offset < int(end)


def held_back(
    instance: dg.DagsterInstance, kafka: TopicLog, topic: str, threshold: float, now: float
) -> list[HeldBack]:
    """Every partition of `topic` whose committed offset waits on a range that failed for good
    (no later success of its day, no retry queued or running) more than `threshold` seconds ago."""
    committed, ends = kafka.committed(LANDING_GROUP, topic), kafka.end_offsets(topic)
    found = []
    for partition, end in sorted(ends.items()):
        offset = committed.get(partition, 0)
        if offset >= end:
            continue
        failures = instance.get_run_records(
            dg.RunsFilter(tags={TAG_TOPIC_PARTITION: f"{topic}/{partition}"}, statuses=[dg.DagsterRunStatus.FAILURE]),
            limit=RECENT_FAILURES,
        )
        for record in failures:
            run = record.dagster_run
            key, day = run.tags.get(TAG_RANGE, ""), run.tags.get("dagster/partition", "")
            if not key or not _range_holds(key, offset):
                continue
            same = {TAG_RANGE: key, "dagster/partition": day}
            recovered = instance.get_run_records(
                dg.RunsFilter(tags=same, statuses=[dg.DagsterRunStatus.SUCCESS, *UNFINISHED]), limit=1
            )
            held = now - (record.end_time or record.create_timestamp.timestamp())
            if not recovered and held >= threshold:
                found.append(HeldBack(key, day, run.run_id, round(held / 60, 1)))
            break
    return found


def held_back_evaluation(topic: str, ranges: list[HeldBack], threshold: float) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=topic_key(topic),
        check_name=CHECK_NAME,
        passed=not ranges,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "; ".join(
                f"{r.range}@{r.day} held back {r.held_minutes} min by failed run {r.failed_run_id}" for r in ranges
            )
            or "no range is held back"
        ),
        metadata={"held_back": [asdict(r) for r in ranges], "threshold_minutes": threshold / 60},
    )


def held_back_check(topic: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=topic_key(topic),
        name=CHECK_NAME,
        description="Fails while a range of the topic has been held back (its runs failed for good) longer than "
        "HELD_BACK_ALERT_MINUTES; replay it by re-executing the failed run named in the metadata.",
    )
    def _check(context: dg.AssetCheckExecutionContext, kafka: dg.ResourceParam[TopicLog]) -> dg.AssetCheckResult:
        threshold = threshold_seconds()
        evaluation = held_back_evaluation(
            topic, held_back(context.instance, kafka, topic, threshold, time.time()), threshold
        )
        return dg.AssetCheckResult(
            passed=evaluation.passed,
            severity=evaluation.severity,
            description=evaluation.description,
            metadata=evaluation.metadata,
        )

    return _check


TOPICS = tuple(s.topic for s in STREAMS)
held_back_checks = [held_back_check(topic) for topic in TOPICS]
