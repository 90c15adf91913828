"""Exactly-once consumption end to end, on a real Kafka-protocol broker (Tansu) and on the
embedded log: produce -> sensor tick -> RunRequests -> runs land exactly their ranges ->
the committer commits the group offsets -> lag 0; poison messages dead-lettered; replays and
retries add nothing."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.core import clock
from assets.offsets import commit_landed
from assets.stream_landings import landing_of
from assets.streams import OPENAQ
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.resources.kafka import KafkaResource
from orchestration.resources.lake import LakeResource
from orchestration.sensors import TAG_TOPIC_PARTITION, evaluate_topic

openaq_measurements_landing = landing_of(OPENAQ)

D1 = datetime(2026, 11, 19, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)
N = 40  # valid messages: hours on both sides of midnight, so batches span two days


@pytest.fixture
def produced(topic_log, make_measurement, write_raw):
    """N valid messages around midnight plus two poison ones that passed no contract."""
    messages = [make_measurement(sensor_id=100 + i % 4, at=MIDNIGHT + timedelta(hours=i // 4 - 5)) for i in range(N)]
    result = topic_log.produce(OPENAQ_TOPIC, messages, "openaq")
    assert result.produced == N and result.dead_lettered == 0
    stamp = int((MIDNIGHT - timedelta(hours=1)).timestamp() * 1000)
    write_raw(topic_log, OPENAQ_TOPIC, "100", b"\xff\xfenot json", stamp)
    write_raw(topic_log, OPENAQ_TOPIC, "101", b'{"sensor_id": "oops"}', stamp)
    return topic_log


def tick(kafka, cursor=None, max_batch=7):
    return evaluate_topic(cursor, kafka, OPENAQ_TOPIC, openaq_measurements_landing, max_batch, max_runs=100)


class FailingLake(LakeResource):
    def edit_partition(self, *args, **kwargs):  # every write of a file of a day goes through it
        raise OSError("disk full")


def run(request: dg.RunRequest, kafka, lake, instance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [openaq_measurements_landing],
        resources={"kafka": kafka, "lake": lake},
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=request.tags,
        instance=instance,
        raise_on_error=False,
    )


def commit_all(kafka, lake) -> None:
    commit_landed(kafka, lake, "openaq_measurements", OPENAQ_TOPIC)


def landed_rows(root: Path) -> dict[str, int]:
    files = sorted(root.glob("raw/openaq_measurements/day=*/*.parquet"))
    out: dict[str, int] = {}
    for f in files:
        out[f.parent.name] = out.get(f.parent.name, 0) + pq.ParquetFile(f).metadata.num_rows
    return out


def rejected_rows(root: Path) -> int:
    return sum(
        pq.ParquetFile(f).metadata.num_rows for f in root.glob("raw/openaq_measurements_rejected/day=*/*.parquet")
    )


def test_every_message_is_consumed_exactly_once_and_committed(produced, tmp_path):
    kafka, lake = produced, LakeResource(root=str(tmp_path))
    ends = kafka.end_offsets(OPENAQ_TOPIC)
    assert sum(ends.values()) == N + 2

    first = tick(kafka)
    assert isinstance(first, dg.SensorResult)
    requests = first.run_requests
    keys = [r.run_key for r in requests]
    assert len(keys) == len(set(keys)), "one run per range and day"
    for r in requests:
        topic, partition, span = r.tags["airstream/kafka_range"].split("/")
        start, end = map(int, span.split("-"))
        assert topic == OPENAQ_TOPIC and 0 < end - start <= 7
        assert r.run_key == f"{topic}/{partition}/{start}-{end}@{r.partition_key}"
        assert r.partition_key in ("2026-11-19", "2026-11-20")
        assert "payload" not in str(r.run_config)
    assert any(len(r.tags["airstream/kafka_range_days"].split(",")) == 2 for r in requests), (
        "a batch spanning midnight yields a run for each day"
    )
    observation = first.asset_events[0]
    assert observation.metadata["consumer_lag"].value == N + 2

    # Nothing new: the next tick from the cursor requests nothing.
    assert tick(kafka, first.cursor).run_requests == []

    instance = dg.DagsterInstance.ephemeral()
    assert all(run(r, kafka, lake, instance).success for r in requests)
    commit_all(kafka, lake)
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC) == ends, "lag 0"

    landed = landed_rows(tmp_path)
    assert landed == {"day=2026-11-19": 20, "day=2026-11-20": 20}
    assert rejected_rows(tmp_path) == 2
    assert sum(landed.values()) + rejected_rows(tmp_path) == N + 2
    assert kafka.topic_size(OPENAQ_TOPIC + ".dlq") == 2

    # Replaying every range changes no count, and dead-letters nothing twice.
    assert all(run(r, kafka, lake, instance).success for r in requests)
    assert landed_rows(tmp_path) == landed
    assert rejected_rows(tmp_path) == 2
    assert kafka.topic_size(OPENAQ_TOPIC + ".dlq") == 2


def test_a_failed_run_commits_nothing_and_its_retry_completes(produced, tmp_path):
    kafka, lake = produced, LakeResource(root=str(tmp_path))
    ends = kafka.end_offsets(OPENAQ_TOPIC)
    requests = tick(kafka, max_batch=100).run_requests  # one range per partition
    instance = dg.DagsterInstance.ephemeral()
    failing, rest = requests[0], requests[1:]
    assert not run(failing, kafka, FailingLake(root=str(tmp_path)), instance).success
    assert all(run(r, kafka, lake, instance).success for r in rest)
    commit_all(kafka, lake)
    failed_partition = int(failing.tags[TAG_TOPIC_PARTITION].rsplit("/", 1)[1])
    committed = kafka.committed(LANDING_GROUP, OPENAQ_TOPIC)
    assert committed.get(failed_partition, 0) == 0, "the failed range holds its partition back"

    assert run(failing, kafka, lake, instance).success  # the retry
    commit_all(kafka, lake)
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC) == ends
    assert sum(landed_rows(tmp_path).values()) + rejected_rows(tmp_path) == N + 2


def test_a_broker_that_is_down_gives_a_quick_skip_reason():
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The longest timeout librdkafka accepts: a quick skip is one decided by the broker-down
    # callback, which the reason names, not one reached by waiting the timeout out.
    down = KafkaResource(bootstrap_servers=f"127.0.0.1:{port}", timeout_seconds=300)
    result = tick(down)
    assert isinstance(result, dg.SkipReason)
    assert "Kafka unavailable" in result.skip_message
    assert "_ALL_BROKERS_DOWN" in result.skip_message


def held_rows(root: Path) -> list[tuple]:
    """(day, partition, offset, key, event time, sensor id) of every held message."""
    return [
        (f.parent.name.removeprefix("day="), *(row[c] for c in ("kafka_partition", "kafka_offset", "kafka_key")))
        + (row["event_time"], json.loads(row["payload"])["sensor_id"])
        for f in sorted(root.glob("raw/openaq_measurements_held/day=*/*.parquet"))
        for row in pq.read_table(f).to_pylist()
    ]


def test_events_before_the_first_partition_land_in_it_and_future_ones_are_held(topic_log, make_measurement, tmp_path):
    kafka, lake = topic_log, LakeResource(root=str(tmp_path))
    old = datetime(2019, 5, 1, 12, tzinfo=UTC)
    future = (clock.now() + timedelta(days=3)).replace(microsecond=0)
    newest = (clock.now() - timedelta(days=1)).date().isoformat()  # the newest partition
    assert newest == "2026-11-21"  # the suite's clock (tests/conftest.py), not the machine's
    # One sensor, so all three share a partition, in this order: old, recent, future.
    for at in (old, MIDNIGHT + timedelta(hours=1), future):
        kafka.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=100, at=at)], "openaq")

    first = tick(kafka, max_batch=2)
    requests = first.run_requests  # range [0, 2): old and recent; [2, 3): the future event alone
    partition = int(requests[0].tags[TAG_TOPIC_PARTITION].rsplit("/", 1)[1])
    assert sorted(r.run_key for r in requests) == sorted(
        [
            f"{OPENAQ_TOPIC}/{partition}/0-2@2024-01-01",
            f"{OPENAQ_TOPIC}/{partition}/0-2@2026-11-20",
            # A range of future days only is landed on the newest partition, which holds it.
            f"{OPENAQ_TOPIC}/{partition}/2-3@{newest}",
        ]
    )
    (alone,) = [r for r in requests if r.partition_key == newest]
    assert alone.tags["airstream/kafka_range_days"] == future.date().isoformat()

    instance = dg.DagsterInstance.ephemeral()
    assert all(run(r, kafka, lake, instance).success for r in requests)
    commit_all(kafka, lake)
    committed, ends = kafka.committed(LANDING_GROUP, OPENAQ_TOPIC), kafka.end_offsets(OPENAQ_TOPIC)
    assert committed[partition] == 3, "held by the raw zone: committed through the range's end"
    assert sum(end - committed.get(p, 0) for p, end in ends.items()) == 0, "lag 0"
    # The newest partition's run lands nothing of its own day (an empty day file) and holds the event.
    assert landed_rows(tmp_path) == {"day=2024-01-01": 1, "day=2026-11-20": 1, f"day={newest}": 0}
    assert held_rows(tmp_path) == [(future.date().isoformat(), partition, 2, "100", future, 100)]
    cursor = json.loads(first.cursor)
    assert cursor["offsets"][str(partition)] == 3, "the future event does not hold the cursor"
    # ... and its day's run waits for the day to become a partition, to move it in.
    assert [entry[:5] for entry in cursor["deferred"]] == [[partition, 2, 3, future.date().isoformat(), 1]]
