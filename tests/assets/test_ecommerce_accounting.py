"""Counting lines per file version in the raw zone, and the volume rule."""

from datetime import UTC, date, datetime

import pytest

from assets.ecommerce.accounting import latest_version_rows, outside_trailing_range
from assets.ecommerce.records import RAW_SCHEMA, raw_batch, split_file
from assets.ecommerce.sources import TRANSACTIONS
from orchestration.resources.lake import LakeResource

DAY = date(2026, 11, 20)


def store(lake, name: str, data: bytes, received_at: datetime) -> None:
    header, records = split_file("csv", data)
    meta = {
        "source_file": f"transactions/{DAY}/{name}",
        "file_sha256": f"{hash(data) & 0xFFFFFFFF:064x}",
        "file_bytes": len(data),
        "received_at": received_at,
        "ingest_run_id": "r",
    }
    lake.write_file(
        "raw", TRANSACTIONS.raw_table, DAY, f"{name}@{received_at:%H}", RAW_SCHEMA, [raw_batch(records, header, meta)]
    )


def test_only_each_files_latest_version_counts_as_lines_in(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    store(lake, "a.csv", b"h\n1\n2\n3\n", datetime(2026, 11, 20, 8, tzinfo=UTC))
    store(lake, "a.csv", b"h\n1\n2\n", datetime(2026, 11, 20, 9, tzinfo=UTC))  # corrected: replaces
    store(lake, "b.csv", b"h\n1\n", datetime(2026, 11, 20, 7, tzinfo=UTC))
    assert latest_version_rows(lake, TRANSACTIONS, DAY) == (3, 3)
    assert latest_version_rows(lake, TRANSACTIONS, date(2026, 11, 19)) == (0, 0)


@pytest.mark.parametrize(
    ("lines", "history", "outside"),
    [
        (100, [], False),
        (100, [10, 0, 12], False),  # two days with data say nothing yet
        (100, [90, 95, 110], False),
        (150, [90, 95, 110], True),
        (50, [90, 0, 95, 110, 0, 0, 99], True),
    ],
)
def test_a_day_outside_the_trailing_range_is_flagged(lines, history, outside):
    assert outside_trailing_range(lines, history) is outside
