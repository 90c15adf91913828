"""A raw block keeps one row per offset, in offset order, whatever order the merges come in,
however many landings merge into the day at once; each merge is a new version of the day."""

import multiprocessing
import os
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from assets.landing.decode import LANDED
from assets.landing.write import ascending, merge_new, read_block
from orchestration.resources.lake import LakeResource
from tests.waiting import WAIT_SECONDS

DAY = date(2026, 11, 20)
NAME = "openaq.measurements-p0-b0000000"
OTHER = "openaq.measurements-p1-b0000000"  # another block of the same day


def rows(offsets: list[int]) -> pa.Table:
    n = len(offsets)
    return pa.Table.from_pydict(
        {
            "kafka_topic": ["openaq.measurements"] * n,
            "kafka_partition": [0] * n,
            "kafka_offset": offsets,
            "kafka_key": [str(o % 7) for o in offsets],
            "payload": [f'{{"n": {o}}}' for o in offsets],
            "event_time": [datetime(2026, 11, 20, tzinfo=UTC)] * n,
            "ingested_at": [datetime(2026, 11, 21, tzinfo=UTC)] * n,
        },
        schema=LANDED,
    )


def block_offsets(lake: LakeResource, name: str = NAME) -> list[int]:
    return read_block(lake, "t", DAY, name, LANDED)["kafka_offset"].to_pylist()


def merge(lake: LakeResource, offsets: list[int], name: str = NAME) -> int:
    with lake.edit_partition("raw", "t", DAY) as edit:
        return merge_new(edit, name, rows(offsets))


def test_merges_in_any_order_leave_each_offset_once_in_order(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    assert merge(lake, [10, 11, 12]) == 3
    assert merge(lake, [3, 4, 11, 12, 13]) == 3  # earlier offsets, a replay
    assert merge(lake, [4, 13]) == 0
    assert block_offsets(lake) == [3, 4, 10, 11, 12, 13]
    payloads = pq.read_table(lake.partition_dir("raw", "t", DAY) / f"{NAME}.parquet")["payload"].to_pylist()
    assert payloads == [f'{{"n": {o}}}' for o in (3, 4, 10, 11, 12, 13)]  # rows moved whole


def test_a_first_landing_out_of_order_is_still_sorted(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    assert merge(lake, [5, 2, 9, 1]) == 4
    assert block_offsets(lake) == [1, 2, 5, 9]


def test_ascending_is_strict():
    assert ascending(pa.chunked_array([[1, 2], [3]]))
    assert ascending(pa.chunked_array([[]], pa.int64())) and ascending(pa.chunked_array([[7]]))
    assert not ascending(pa.chunked_array([[1, 3], [2]]))
    assert not ascending(pa.chunked_array([[1, 1]]))


def test_a_merge_is_a_new_version_of_the_day_and_a_planned_read_keeps_its_own(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    assert merge(lake, [1, 2]) == 2 and merge(lake, [7], OTHER) == 1
    day = lake.partition_dir("raw", "t", DAY)
    before = os.path.realpath(day)
    planned = pa_ds.dataset(lake.read_days("raw", "t", [DAY]).files(DAY), format="parquet")
    assert merge(lake, [3]) == 1
    assert os.path.realpath(day) != before  # swapped in, not written into the version a reader has
    assert sorted(planned.to_table()["kafka_offset"].to_pylist()) == [1, 2, 7]
    assert block_offsets(lake) == [1, 2, 3] and block_offsets(lake, OTHER) == [7]  # the other block kept
    assert sorted(p.name for p in day.iterdir()) == [f"{NAME}.parquet", f"{OTHER}.parquet"]  # no lock of its own


# The cuts of three landings of one day: the same offsets of two blocks, each cut its own way.
CUTS = {1: (7, False), 2: (11, True), 3: (13, False)}


def merge_in_child(root: str, worker: int, barrier, results) -> None:
    lake = LakeResource(root=root)
    size, backwards = CUTS[worker]
    pieces = [list(range(a, min(a + size, 300))) for a in range(0, 300, size)]
    barrier.wait()  # start together, so the merges really interleave
    added = 0
    for piece in reversed(pieces) if backwards else pieces:
        for name, offsets in ((NAME, [o for o in piece if o < 150]), (OTHER, [o for o in piece if o >= 150])):
            added += merge(lake, offsets, name) if offsets else 0
    results.put(added)


def test_concurrent_landings_of_a_day_lose_no_row_and_add_none_twice(tmp_path):
    # fork: the children need not re-import dagster; nothing is open in the parent.
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    workers = [ctx.Process(target=merge_in_child, args=(str(tmp_path), w, barrier, results)) for w in CUTS]
    for worker in workers:
        worker.start()
    lake = LakeResource(root=str(tmp_path))
    while any(w.is_alive() for w in workers):
        # Every read is one whole version: an offset is never seen twice, whatever is swapped meanwhile.
        if lake.partition_dir("raw", "t", DAY).is_dir():
            seen = lake.read_days("raw", "t", [DAY]).read(DAY)["kafka_offset"].to_pylist()
            assert len(seen) == len(set(seen))
    for worker in workers:
        worker.join(timeout=WAIT_SECONDS)
        assert worker.exitcode == 0
    # Each offset was added by exactly one of the landings, and is one row of one block.
    assert sum(results.get(timeout=WAIT_SECONDS) for _ in workers) == 300
    assert block_offsets(lake) == list(range(150)) and block_offsets(lake, OTHER) == list(range(150, 300))
