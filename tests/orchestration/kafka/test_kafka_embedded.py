"""The embedded log across processes: the sensor daemon and run workers share one SQLite file."""

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta

from orchestration.resources.kafka import EmbeddedTopicLogResource, OffsetRange, partition_for
from tests.waiting import WAIT_SECONDS

T = "openaq.measurements"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def produce_in_child(path: str, worker: int, count: int, measurement, barrier, results) -> None:
    log = EmbeddedTopicLogResource(path=path)
    barrier.wait()  # start together, so the appends really interleave
    total = 0
    for start in range(0, count, 20):  # many small transactions: more chances to collide
        batch = [
            measurement(sensor, DAY + timedelta(seconds=worker * 10_000 + sensor))
            for sensor in range(start, start + 20)
        ]
        total += log.produce(T, batch, source=f"worker-{worker}").produced
    results.put(total)


def test_concurrent_producers_in_two_processes_get_unique_gap_free_offsets(tmp_path, make_measurement):
    path = str(tmp_path / "topics.sqlite")  # not created yet: the children also race to create it
    # fork: the children need not re-import dagster (2 s each); nothing is open in the parent.
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=produce_in_child, args=(path, w, 200, make_measurement, barrier, results)) for w in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=WAIT_SECONDS)
        assert worker.exitcode == 0
    assert sorted(results.get(timeout=WAIT_SECONDS) for _ in workers) == [200, 200]

    log = EmbeddedTopicLogResource(path=path)
    ends = log.end_offsets(T)
    assert sum(ends.values()) == 400
    sources = set()
    for partition, end in ends.items():
        records = log.read_range(OffsetRange(T, partition, 0, end))
        assert [r.offset for r in records] == list(range(end))  # unique and gap-free
        sources |= {r.headers["source"] for r in records}
    assert sources == {"worker-1", "worker-2"}


def test_readers_do_not_wait_for_a_writer(tmp_path, make_measurement):
    log = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    log.produce(T, [make_measurement(1, DAY)], source="openaq")
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("begin immediate")  # another process in the middle of a write
    try:
        # No busy timeout: a read that had to wait for the writer's lock would fail at once with
        # "database is locked" instead of answering; no clock is read.
        reader = EmbeddedTopicLogResource(path=log.path, busy_timeout_seconds=0)
        assert sum(reader.end_offsets(T).values()) == 1  # WAL: readers see the last commit at once
    finally:
        holder.execute("rollback")
        holder.close()


def test_state_survives_a_new_resource_instance(tmp_path, make_measurement):
    path = str(tmp_path / "nested" / "topics.sqlite")
    first = EmbeddedTopicLogResource(path=path)
    first.produce(T, [make_measurement(s, DAY) for s in range(6)], source="openaq")
    first.commit("sinks", OffsetRange(T, 0, 0, 1))

    again = EmbeddedTopicLogResource(path=path, partitions=5)  # an existing topic keeps 3 partitions
    assert again.end_offsets(T) == first.end_offsets(T) and len(again.end_offsets(T)) == 3
    assert again.committed("sinks", T)[0] == 1
    before = again.end_offsets(T)
    result = again.produce(T, [make_measurement(0, DAY)], source="openaq")
    partition = partition_for("0", 3)
    assert result.offsets == {partition: (before[partition], before[partition])}
