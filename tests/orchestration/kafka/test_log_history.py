"""A topic log that lost its history is never taken for the old one (issue 25, item 9), on Tansu
and on the embedded log: a lost `topics.sqlite` (or a deleted and recreated Kafka topic), with the
day's messages published again from offset 0, is refused by the landing and by the committer,
naming the topic and partition, instead of being landed as `added 0` and committed."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from assets.core.stream import OffsetRange
from assets.offsets import commit_landed, committed_asset
from assets.stream_landings import landing_of
from assets.streams import OPENAQ
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.resources.kafka import KafkaResource
from orchestration.resources.kafka.embedded import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource

openaq_measurements_landing = landing_of(OPENAQ)

MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)
DAY = "2026-11-20"
TABLE = "openaq_measurements"
COMMITTED = committed_asset(OPENAQ_TOPIC, TABLE, "openaq", [openaq_measurements_landing.key])


def publish_day(log, make_measurement, write_raw) -> None:
    """20 valid messages of DAY and one poison one: what the pull publishes (and re-publishes)."""
    messages = [make_measurement(sensor_id=100 + i % 4, at=MIDNIGHT + timedelta(hours=i)) for i in range(20)]
    assert log.produce(OPENAQ_TOPIC, messages, "openaq").produced == 20
    write_raw(log, OPENAQ_TOPIC, "100", b"\xff\xfenot json", int((MIDNIGHT + timedelta(hours=1)).timestamp() * 1000))


def run_day(log, lake) -> dg.ExecuteInProcessResult:
    """The day's landing and its commit, as `make run` runs them."""
    return dg.materialize(
        [openaq_measurements_landing, COMMITTED],
        resources={"kafka": log, "lake": lake},
        partition_key=DAY,
        raise_on_error=False,
    )


def raw_rows(root: Path, table: str = TABLE) -> int:
    return sum(pq.read_metadata(f).num_rows for f in root.glob(f"raw/{table}/day={DAY}/*.parquet"))


def lose_history(log, tmp_path):
    """The log's history is gone and a new one starts at offset 0: the embedded log's file moved
    away (a new file at the same path), or the Kafka topic deleted and created again."""
    if isinstance(log, KafkaResource):
        admin = AdminClient({"bootstrap.servers": log.bootstrap_servers})
        names = [OPENAQ_TOPIC, OPENAQ_TOPIC + ".dlq"]
        for future in admin.delete_topics(names, request_timeout=5).values():
            future.result(timeout=5)
        created = admin.create_topics([NewTopic(n, num_partitions=log.partitions) for n in names])
        for future in created.values():
            future.result(timeout=5)
        return log
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in Path(log.path).parent.glob("topics.sqlite*"):
        shutil.move(path, moved / path.name)
    return EmbeddedTopicLogResource(path=log.path)


def step_error(result: dg.ExecuteInProcessResult) -> str:
    return str(result.get_step_failure_events()[0].event_specific_data.error)


def test_a_log_that_lost_its_history_is_refused_not_taken_for_the_old_one(
    topic_log, make_measurement, write_raw, tmp_path
):
    lake = LakeResource(root=str(tmp_path / "lake"))
    publish_day(topic_log, make_measurement, write_raw)
    first = run_day(topic_log, lake)
    assert first.success
    assert (raw_rows(tmp_path / "lake"), raw_rows(tmp_path / "lake", f"{TABLE}_rejected")) == (20, 1)
    assert topic_log.committed(LANDING_GROUP, OPENAQ_TOPIC) == topic_log.end_offsets(OPENAQ_TOPIC)

    log = lose_history(topic_log, tmp_path)
    publish_day(log, make_measurement, write_raw)  # same day again: offsets 0.. reused by other messages
    committed_before = log.committed(LANDING_GROUP, OPENAQ_TOPIC)

    again = run_day(log, lake)
    assert not again.success, "the new log's messages were taken as the landed ones"
    error = step_error(again)
    assert OPENAQ_TOPIC in error and "partition " in error and "topic id" in error, error
    assert "lost topics.sqlite" in error and "Recovery" in error, error
    assert (raw_rows(tmp_path / "lake"), raw_rows(tmp_path / "lake", f"{TABLE}_rejected")) == (20, 1)

    # The committer (the sensor's path) refuses too, and commits none of the unseen messages.
    with pytest.raises(Exception, match=f"{OPENAQ_TOPIC} partition \\d: raw/{TABLE}/day={DAY} block"):
        commit_landed(log, lake, TABLE, OPENAQ_TOPIC)
    assert log.committed(LANDING_GROUP, OPENAQ_TOPIC) == committed_before

    # The README's recovery when the old log is gone for good: the refused raw days aside, the
    # group reset to the earliest offset, the day re-run: it lands from the new log, once.
    aside = tmp_path / "raw-aside"
    for table in (TABLE, f"{TABLE}_rejected"):
        shutil.move(tmp_path / "lake" / "raw" / table, aside / table)
    for partition in log.end_offsets(OPENAQ_TOPIC):
        log.commit(LANDING_GROUP, OffsetRange(OPENAQ_TOPIC, partition, 0, 0))
    assert run_day(log, lake).success
    assert (raw_rows(tmp_path / "lake"), raw_rows(tmp_path / "lake", f"{TABLE}_rejected")) == (20, 1)
    assert log.committed(LANDING_GROUP, OPENAQ_TOPIC) == log.end_offsets(OPENAQ_TOPIC)


def test_a_committed_offset_beyond_the_log_end_is_refused(make_measurement, write_raw, tmp_path):
    """How a recreated topic shows on Kafka when the group kept its offsets: committed > end."""
    log, lake = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite")), LakeResource(root=str(tmp_path))
    publish_day(log, make_measurement, write_raw)
    ends = log.end_offsets(OPENAQ_TOPIC)
    partition = max(ends, key=ends.get)
    log.commit(LANDING_GROUP, OffsetRange(OPENAQ_TOPIC, partition, 0, ends[partition] + 500))

    result = run_day(log, lake)
    assert not result.success
    expected = f"partition {partition}: committed offset {ends[partition] + 500}, log end {ends[partition]}"
    assert expected in step_error(result)
    assert raw_rows(tmp_path) == 0
    with pytest.raises(Exception, match=expected):
        commit_landed(log, lake, TABLE, OPENAQ_TOPIC)
