"""The offset committer run through Dagster's sensor evaluation on a real instance, after real
landing runs: it commits through what the raw zone holds, reads run successes in bounded
batches, stops at a range whose run failed (and reports it held back until its replay), and
waits while the broker is down."""

from datetime import UTC, datetime

import dagster as dg
import pytest

import orchestration.committer as committer
from assets.stream_landings import landing_of
from assets.streams import OPENAQ
from assets.topics import LANDING_GROUP
from orchestration.committer import CommitterCursor
from orchestration.kafka_tags import TAG_DAYS, TAG_RANGE, TAG_TOPIC_PARTITION
from orchestration.resources.kafka import EmbeddedTopicLogResource, KafkaResource
from orchestration.resources.lake import LakeResource
from tests.orchestration.live_instance import free_port

openaq_measurements_landing = landing_of(OPENAQ)

TOPIC = "openaq.measurements"
DAY = "2026-11-20"
STAMP = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp() * 1000)
days = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=days)
def broken_landing() -> None:
    raise RuntimeError("the lake went away")


@pytest.fixture
def log(tmp_path):
    """40 messages on partition 0 of the embedded log; not contract-valid, so landing
    dead-letters each once: a dead-lettered reject counts as held by the raw zone."""
    log = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    log.ensure_topic(TOPIC)
    with log._write() as conn:
        for i in range(40):
            log._append(conn, TOPIC, f"k{i}", b"{}", {}, STAMP, partition=0)
    return log


@pytest.fixture
def lake(tmp_path):
    return LakeResource(root=str(tmp_path / "lake"))


def tags(start: int, end: int) -> dict[str, str]:
    return {TAG_RANGE: f"{TOPIC}/0/{start}-{end}", TAG_DAYS: DAY, TAG_TOPIC_PARTITION: f"{TOPIC}/0"}


def land(instance, log, lake, start: int, end: int) -> bool:
    config = {"ranges": [{"partition": 0, "start": start, "end": end}]}
    return dg.materialize(
        [openaq_measurements_landing],
        partition_key=DAY,
        instance=instance,
        tags=tags(start, end),
        resources={"kafka": log, "lake": lake},
        run_config={"ops": {openaq_measurements_landing.op.name: {"config": config}}},
    ).success


def fail(instance, start: int, end: int) -> None:
    result = dg.materialize(
        [broken_landing], partition_key=DAY, instance=instance, tags=tags(start, end), raise_on_error=False
    )
    assert not result.success


def tick(instance, log, lake, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"kafka": log, "lake": lake}) as context:
        result = committer.kafka_offset_committer(context)
        return context.cursor, result


def committed(log) -> int:
    return log.committed(LANDING_GROUP, TOPIC).get(0, 0)


def held_back_checks(result) -> list:
    events = result.asset_events if isinstance(result, dg.SensorResult) else []
    return [
        e
        for e in events
        if isinstance(e, dg.AssetCheckEvaluation)
        and e.asset_key.path[-1] == "openaq_measurements"
        and e.check_name == "no_range_held_back"
    ]


def test_commits_through_what_the_landing_runs_landed(log, lake):
    with dg.instance_for_test() as instance:
        for start in range(0, 40, 5):  # more runs than the 5 a run-status sensor is handed per tick
            assert land(instance, log, lake, start, start + 5)
        assert committed(log) == 0  # the runs selected the landing alone: nothing committed yet
        tick(instance, log, lake, None)
        assert committed(log) == 40


def test_successes_are_read_in_bounded_batches(log, lake, monkeypatch):
    monkeypatch.setattr(committer, "COMMIT_BATCH", 2)
    with dg.instance_for_test() as instance:
        for start in range(0, 40, 8):
            assert land(instance, log, lake, start, start + 8)
        ids = committer.successes_after(instance, -1, limit=100)
        cursor, seen = None, []
        for _ in range(3):
            cursor, _ = tick(instance, log, lake, cursor)
            seen.append(CommitterCursor.load(cursor).after)
        assert seen == [ids[1], ids[3], ids[4]]
        assert committed(log) == 40


def test_a_failed_range_holds_its_partition_and_is_reported_until_its_replay(log, lake, monkeypatch):
    monkeypatch.setenv("HELD_BACK_ALERT_MINUTES", "0")
    with dg.instance_for_test() as instance:
        assert land(instance, log, lake, 0, 10)
        fail(instance, 10, 20)
        assert land(instance, log, lake, 20, 40)
        cursor, result = tick(instance, log, lake, None)
        assert committed(log) == 10  # never past the range that did not land
        [check] = held_back_checks(result)
        assert not check.passed and check.check_name == "no_range_held_back"
        failed_run = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))[0]
        [held] = check.metadata["held_back"].data
        assert held["range"] == f"{TOPIC}/0/10-20" and held["failed_run_id"] == failed_run.run_id

        cursor, again = tick(instance, log, lake, cursor)
        assert held_back_checks(again) == []  # unchanged: not reported again

        assert land(instance, log, lake, 10, 20)  # the replay
        cursor, result = tick(instance, log, lake, cursor)
        assert committed(log) == 40
        [check] = held_back_checks(result)
        assert check.passed


def test_a_failure_younger_than_the_threshold_is_not_held_back_yet(log, lake, monkeypatch):
    monkeypatch.setenv("HELD_BACK_ALERT_MINUTES", "30")
    with dg.instance_for_test() as instance:
        fail(instance, 0, 10)
        _, result = tick(instance, log, lake, None)
        assert all(c.passed for c in held_back_checks(result))


def test_a_broker_that_is_down_skips_the_tick_and_loses_no_success(log, lake):
    with dg.instance_for_test() as instance:
        assert land(instance, log, lake, 0, 10)
        cursor, _ = tick(instance, log, lake, None)
        assert land(instance, log, lake, 10, 20)
        down = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}", timeout_seconds=2)  # nothing listens
        same, result = tick(instance, down, lake, cursor)
        assert isinstance(result, dg.SkipReason) and "Kafka unavailable" in result.skip_message
        assert same == cursor  # the success is read again on the next tick
        tick(instance, log, lake, same)
        assert committed(log) == 20
