"""A raw block keeps one row per offset, in offset order, whatever order the merges come in."""

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from assets.landed_files import ascending, merge_new, read_block
from assets.raw_records import LANDED
from orchestration.resources.lake import LakeResource

DAY = date(2026, 11, 20)
NAME = "openaq.measurements-p0-b0000000"


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


def block_offsets(lake: LakeResource) -> list[int]:
    return read_block(lake, "t", DAY, NAME, LANDED)["kafka_offset"].to_pylist()


def test_merges_in_any_order_leave_each_offset_once_in_order(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    assert merge_new(lake, "t", DAY, NAME, rows([10, 11, 12])) == 3
    assert merge_new(lake, "t", DAY, NAME, rows([3, 4, 11, 12, 13])) == 3  # earlier offsets, a replay
    assert merge_new(lake, "t", DAY, NAME, rows([4, 13])) == 0
    assert block_offsets(lake) == [3, 4, 10, 11, 12, 13]
    payloads = pq.read_table(lake.partition_dir("raw", "t", DAY) / f"{NAME}.parquet")["payload"].to_pylist()
    assert payloads == [f'{{"n": {o}}}' for o in (3, 4, 10, 11, 12, 13)]  # rows moved whole


def test_a_first_landing_out_of_order_is_still_sorted(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    assert merge_new(lake, "t", DAY, NAME, rows([5, 2, 9, 1])) == 4
    assert block_offsets(lake) == [1, 2, 5, 9]


def test_ascending_is_strict():
    assert ascending(pa.chunked_array([[1, 2], [3]]))
    assert ascending(pa.chunked_array([[]], pa.int64())) and ascending(pa.chunked_array([[7]]))
    assert not ascending(pa.chunked_array([[1, 3], [2]]))
    assert not ascending(pa.chunked_array([[1, 1]]))
