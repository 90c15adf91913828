"""The offset committer: commits the landing group's offsets once the runs of a range succeeded.

A plain sensor over the instance's run-status changes, not a run-status sensor: Dagster hands a
run-status sensor at most 5 finished runs per tick (DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT),
while the topic sensors can request far more, so on a busy day the lag would grow although every
run succeeded. Here one tick reads up to COMMIT_BATCH successes after its cursor (a bounded,
indexed query; never the whole run history), and the ranges that succeeded but cannot be
committed yet (a gap before them) are kept in the cursor until the gap closes.

The rule is the one every commit follows: a range is complete once a run of each day it touches
has succeeded, and a partition's offset advances only contiguously from the group's committed
offset through complete ranges, so a failed run holds its partition back until its retry succeeds.
"""

import json
import time
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.event_api import RunStatusChangeRecordsFilter

from assets.ports import KafkaRange
from assets.topics import LANDING_GROUP
from orchestration.held_back import TOPICS, held_back, held_back_evaluation, threshold_seconds
from orchestration.kafka_tags import TAG_DAYS, TAG_RANGE, TAG_TOPIC_PARTITION
from orchestration.resources.kafka import KafkaUnavailable, TopicLog

# Run successes read per tick: thousands of runs a minute, within the tick's time limit.
COMMIT_BATCH = 1000


@dataclass
class CommitState:
    """The cursor: the last run-status change read, and ranges seen succeeding but not committed."""

    after: int = -1
    # topic -> the description of its last held-back evaluation, so a change is reported once
    held: dict[str, str] = field(default_factory=dict)
    # range key (topic/partition/start-end) -> [days the range touches, days whose run succeeded]
    pending: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, cursor: str | None) -> "CommitState":
        if not cursor:
            return cls()
        raw = json.loads(cursor)
        pending = {k: (v[0], v[1]) for k, v in raw["pending"].items()}
        return cls(raw["after"], raw.get("held", {}), pending)

    def dump(self) -> str:
        return json.dumps({"after": self.after, "held": self.held, "pending": self.pending}, sort_keys=True)

    def record_success(self, tags: dict[str, str]) -> str | None:
        """Note one successful run; returns its topic/partition, or None for a non-consumer run."""
        key = tags.get(TAG_RANGE)
        if not key or TAG_DAYS not in tags:
            return None
        days, done = self.pending.setdefault(key, (sorted(tags[TAG_DAYS].split(",")), []))
        day = tags.get("dagster/partition")
        if day in days and day not in done:
            done.append(day)
            done.sort()
        return tags[TAG_TOPIC_PARTITION]

    def complete_ranges(self, topic_partition: str) -> dict[int, int]:
        """start -> end of the ranges of one partition whose every day has succeeded."""
        complete = {}
        for key, (days, done) in self.pending.items():
            prefix, span = key.rsplit("/", 1)
            if prefix == topic_partition and set(days) <= set(done):
                start, end = span.split("-")
                complete[int(start)] = int(end)
        return complete

    def forget_through(self, topic_partition: str, offset: int) -> None:
        """Drop the ranges of a partition that end at or before its committed offset."""
        for key in list(self.pending):
            prefix, span = key.rsplit("/", 1)
            if prefix == topic_partition and int(span.split("-")[1]) <= offset:
                del self.pending[key]


def contiguous_end(committed: int, complete: dict[int, int]) -> int:
    """How far the committed offset can advance through complete ranges without a gap."""
    offset = committed
    while offset in complete and complete[offset] > offset:
        offset = complete[offset]
    return offset


def commit_partition(kafka: TopicLog, state: CommitState, topic_partition: str) -> int | None:
    """Commit one partition as far as its complete ranges allow; returns the new offset, if any."""
    topic, partition = topic_partition.rsplit("/", 1)
    committed = kafka.committed(LANDING_GROUP, topic).get(int(partition), 0)
    offset = contiguous_end(committed, state.complete_ranges(topic_partition))
    if offset > committed:
        kafka.commit(LANDING_GROUP, KafkaRange(topic, int(partition), committed, offset))
    state.forget_through(topic_partition, offset)
    return offset if offset > committed else None


def successes_after(instance: dg.DagsterInstance, after: int, limit: int | None = None):
    """(storage id, run tags) of the next run successes after `after`, oldest first."""
    records = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(event_type=dg.DagsterEventType.RUN_SUCCESS, after_storage_id=after),
        limit=limit or COMMIT_BATCH,
        ascending=True,
    ).records
    run_ids = list({r.event_log_entry.run_id for r in records})
    runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))} if run_ids else {}
    return [(r.storage_id, runs[r.event_log_entry.run_id].tags) for r in records if r.event_log_entry.run_id in runs]


@dg.sensor(
    name="kafka_offset_committer",
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Commits the landing group's offsets contiguously through ranges whose runs all succeeded.",
)
def kafka_offset_committer(context: dg.SensorEvaluationContext, kafka: dg.ResourceParam[TopicLog]):
    state = CommitState.load(context.cursor)
    successes = successes_after(context.instance, state.after)
    touched = {tp for _, tags in successes if (tp := state.record_success(tags))}
    if successes:
        state.after = successes[-1][0]
    # Partitions with ranges still pending are retried every tick: the broker may have been down.
    touched |= {key.rsplit("/", 1)[0] for key in state.pending}
    committed = {}
    try:
        for topic_partition in sorted(touched):
            offset = commit_partition(kafka, state, topic_partition)
            if offset is not None:
                committed[topic_partition] = offset
    except KafkaUnavailable as error:
        # Nothing is lost: the successes are in the cursor and are committed on a later tick.
        context.update_cursor(state.dump())
        return dg.SkipReason(f"Kafka unavailable, commits wait: {error}")
    try:
        evaluations = held_back_changes(context.instance, kafka, state)
    except KafkaUnavailable as error:
        evaluations = []
        context.log.warning(f"held-back ranges not evaluated, Kafka unavailable: {error}")
    context.update_cursor(state.dump())
    summary = (
        f"{len(successes)} run success(es) read; committed {committed or 'nothing'}; "
        f"{len(state.pending)} range(s) waiting"
    )
    if evaluations:
        return dg.SensorResult(asset_events=evaluations, skip_reason=summary)
    return dg.SkipReason(summary)


def held_back_changes(instance, kafka: TopicLog, state: CommitState) -> list[dg.AssetCheckEvaluation]:
    """The held-back check of every topic whose outcome changed since the last tick."""
    threshold, now, changed = threshold_seconds(), time.time(), []
    for topic in TOPICS:
        ranges = held_back(instance, kafka, topic, threshold, now)
        # The ranges and runs, not the minutes: a range still held back is not news every tick.
        outcome = ",".join(f"{r.range}@{r.day}:{r.failed_run_id}" for r in ranges) or "passed"
        if state.held.get(topic) != outcome:
            state.held[topic] = outcome
            changed.append(held_back_evaluation(topic, ranges, threshold))
    return changed
