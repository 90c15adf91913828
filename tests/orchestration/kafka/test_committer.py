"""The offset committer run through Dagster's sensor evaluation on a real instance, with real
successful and failed runs: contiguous commits, a failed range holding its partition back until
its retry, a tick that reads more runs than a run-status sensor would, and a broker that is down."""

from datetime import datetime, timezone

import dagster as dg
import pytest

import orchestration.committer as committer
from assets.topics import LANDING_GROUP
from orchestration.committer import CommitState, contiguous_end
from orchestration.kafka_tags import TAG_DAYS, TAG_RANGE, TAG_TOPIC_PARTITION
from orchestration.resources.kafka import KafkaResource

TOPIC = "openaq.measurements"
DAY_A, DAY_B = "2026-11-19", "2026-11-20"
days = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=days)
def landed_range(context: dg.AssetExecutionContext) -> None:
    if context.run.tags.get("fail") == "yes":
        raise RuntimeError("the warehouse went away")


def run_range(instance, start: int, end: int, day: str, range_days: list[str], fail: bool = False) -> bool:
    tags = {
        TAG_RANGE: f"{TOPIC}/0/{start}-{end}",
        TAG_DAYS: ",".join(range_days),
        TAG_TOPIC_PARTITION: f"{TOPIC}/0",
        **({"fail": "yes"} if fail else {}),
    }
    result = dg.materialize([landed_range], partition_key=day, instance=instance, tags=tags, raise_on_error=False)
    return result.success


@pytest.fixture
def log(topic_log, write_raw):
    stamp = int(datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp() * 1000)
    for i in range(40):
        write_raw(topic_log, TOPIC, f"k{i}", b"{}", stamp)
    return topic_log


def tick(instance, log, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"kafka": log}) as context:
        result = committer.kafka_offset_committer(context)
        return context.cursor, result


def committed(log) -> int:
    return log.committed(LANDING_GROUP, TOPIC).get(0, 0)


def test_commits_contiguously_and_a_failed_range_holds_its_partition_until_its_retry(log):
    with dg.instance_for_test() as instance:
        assert run_range(instance, 0, 10, DAY_A, [DAY_A])
        assert run_range(instance, 10, 20, DAY_A, [DAY_A, DAY_B])  # the range's other day is still to come
        assert run_range(instance, 30, 40, DAY_B, [DAY_B])
        cursor, _ = tick(instance, log, None)
        assert committed(log) == 10

        assert run_range(instance, 10, 20, DAY_B, [DAY_A, DAY_B])
        assert not run_range(instance, 20, 30, DAY_B, [DAY_B], fail=True)
        cursor, _ = tick(instance, log, cursor)
        assert committed(log) == 20  # never past the failed range
        cursor, _ = tick(instance, log, cursor)
        assert committed(log) == 20 and f"{TOPIC}/0/30-40" in CommitState.load(cursor).pending

        assert run_range(instance, 20, 30, DAY_B, [DAY_B])  # the retry
        cursor, _ = tick(instance, log, cursor)
        assert committed(log) == 40
        assert CommitState.load(cursor).pending == {}


def test_one_tick_commits_more_runs_than_a_run_status_sensor_is_handed(log):
    with dg.instance_for_test() as instance:
        for start in range(0, 40, 4):
            assert run_range(instance, start, start + 4, DAY_B, [DAY_B])
        tick(instance, log, None)
        assert committed(log) == 40  # 10 runs in one tick; a run-status sensor gets 5


def test_a_backlog_drains_over_ticks_of_bounded_reads(log, monkeypatch):
    monkeypatch.setattr(committer, "COMMIT_BATCH", 3)
    with dg.instance_for_test() as instance:
        for start in range(0, 40, 5):
            assert run_range(instance, start, start + 5, DAY_B, [DAY_B])
        cursor, seen = None, []
        for _ in range(3):
            cursor, _ = tick(instance, log, cursor)
            seen.append(committed(log))
        assert seen == [15, 30, 40]


def test_a_broker_that_is_down_skips_the_tick_and_loses_no_success(log):
    with dg.instance_for_test() as instance:
        assert run_range(instance, 0, 10, DAY_B, [DAY_B])
        down = KafkaResource(bootstrap_servers="127.0.0.1:9", timeout_seconds=2)  # nothing listens
        cursor, result = tick(instance, down, None)
        assert isinstance(result, dg.SkipReason) and "Kafka unavailable" in result.skip_message
        assert f"{TOPIC}/0/0-10" in CommitState.load(cursor).pending
        cursor, _ = tick(instance, log, cursor)
        assert committed(log) == 10


def test_contiguous_end_stops_at_the_first_gap():
    assert contiguous_end(0, {0: 5, 5: 9, 10: 12}) == 9
    assert contiguous_end(3, {0: 5}) == 3
    assert contiguous_end(0, {0: 0}) == 0


def held_back_checks(result) -> list:
    events = result.asset_events if isinstance(result, dg.SensorResult) else []
    return [e for e in events if isinstance(e, dg.AssetCheckEvaluation)]


def test_a_range_failed_for_good_fails_the_held_back_check_until_its_replay_succeeds(log, monkeypatch):
    monkeypatch.setenv("HELD_BACK_ALERT_MINUTES", "0")
    with dg.instance_for_test() as instance:
        assert run_range(instance, 0, 10, DAY_B, [DAY_B])
        assert not run_range(instance, 10, 20, DAY_B, [DAY_B], fail=True)
        assert run_range(instance, 20, 30, DAY_B, [DAY_B])
        cursor, result = tick(instance, log, None)
        assert committed(log) == 10
        [check] = [c for c in held_back_checks(result) if c.asset_key.path == ["kafka", "openaq_measurements"]]
        assert not check.passed and check.check_name == "no_range_held_back"
        failed_run = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))[0]
        [held] = check.metadata["held_back"].data
        assert held["range"] == f"{TOPIC}/0/10-20" and held["failed_run_id"] == failed_run.run_id

        _, again = tick(instance, log, cursor)  # unchanged: not reported again
        assert held_back_checks(again) == []

        assert run_range(instance, 10, 20, DAY_B, [DAY_B])  # the replay
        cursor, result = tick(instance, log, cursor)
        assert committed(log) == 30
        [check] = [c for c in held_back_checks(result) if c.asset_key.path == ["kafka", "openaq_measurements"]]
        assert check.passed


def test_a_failure_younger_than_the_threshold_is_not_held_back_yet(log, monkeypatch):
    monkeypatch.setenv("HELD_BACK_ALERT_MINUTES", "30")
    with dg.instance_for_test() as instance:
        assert not run_range(instance, 0, 10, DAY_B, [DAY_B], fail=True)
        _, result = tick(instance, log, None)
        assert all(c.passed for c in held_back_checks(result))
