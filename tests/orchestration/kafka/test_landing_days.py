"""Several whole days landed in one call (a single-run backfill, issue 22 item 4) read the topic
once, over the union of the days' ranges, and give each day exactly what landing it alone gives:
its raw rows, rejects and DLQ entries, the messages held for a later day, and its counts with the
`covered` offsets the loss accounting reads. Days are fixed: 2026-11-17..19 are landed,
2026-11-20 is the newest partition, 2027-01-05 is not a partition yet (held)."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.core.codec import prepare
from assets.landing.day import NothingToLand, land_whole_day, land_whole_days
from assets.stream_landings import landing_of
from assets.streams import OPENAQ
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource
from tests.orchestration.kafka.conftest import measurement
from tests.orchestration.kafka.test_landing_identity import Proxy, dlq_entries, expire

TABLE = "openaq_measurements"
BEFORE, D1, D2, D3, NEWEST, LATER = (
    date(2026, 11, 16),
    date(2026, 11, 17),
    date(2026, 11, 18),
    date(2026, 11, 19),
    date(2026, 11, 20),
    date(2027, 1, 5),
)
RUN = [D1, D2, D3]
POISON = b'{"sensor_id": "oops"}'


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# (partition, event time, poison, partition_day header overriding the time's day), in log order:
# event times out of order within a partition, poison messages of run days and of the later day,
# messages of days before, between and after the run, and one dated D3 by its header but stamped
# BEFORE, at an offset D3's own read starts after (only D1's and D2's reads see it, as another
# day's message).
MESSAGES = [
    (0, at(BEFORE, 10), False, None),
    (0, at(D1, 1), False, None),
    (0, at(D1, 2), True, None),
    (0, at(BEFORE, 20), False, D3),
    (0, at(D2, 5), False, None),
    (0, at(D1, 23), False, None),
    (0, at(LATER, 6), False, None),
    (0, at(BEFORE, 23), False, None),
    (0, at(D3, 4), False, None),
    (0, at(D2, 7), True, None),
    (0, at(LATER, 7), True, None),
    (0, at(NEWEST, 1), False, None),
    (0, at(D1, 12), False, None),
    (1, at(BEFORE, 3), False, None),
    (1, at(D2, 1), False, None),
    (1, at(D2, 2), False, None),
    (1, at(LATER, 8), False, None),
    (1, at(D3, 9), True, None),
    (1, at(D3, 10), False, None),
]


def filled(path: Path) -> EmbeddedTopicLogResource:
    log = EmbeddedTopicLogResource(path=str(path))
    log.ensure_topic(OPENAQ_TOPIC)
    with log._write() as conn:
        for i, (partition, moment, poison, header_day) in enumerate(MESSAGES):
            p = prepare(OPENAQ_TOPIC, measurement(sensor_id=100 + i, at=moment), "openaq")
            assert p.topic == OPENAQ_TOPIC
            headers = p.headers | ({"partition_day": header_day.isoformat()} if header_day else {})
            value = POISON if poison else p.payload
            log._append(conn, OPENAQ_TOPIC, p.key, value, headers, p.timestamp_ms, partition=partition)
    return log


class Reads:
    """A topic log that counts the records read from the landed topic."""

    def __init__(self, log):
        self.records = 0
        self.log = Proxy(log, read_range=self.read_range)
        self._inner = log

    def read_range(self, r):
        records = self._inner.read_range(r)
        if r.topic == OPENAQ_TOPIC:
            self.records += len(records)
        return records


def zone(root: Path, table: str) -> dict[str, list[dict]]:
    """Each day's raw rows of `table` without `ingested_at` (the landing's clock), by offset."""
    days = {}
    for directory in sorted(root.glob(f"raw/{table}/day=*")):
        files = sorted(directory.glob("*.parquet"))
        if not files:
            continue
        rows = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist()
        for row in rows:
            row.pop("ingested_at", None)
        days[directory.name] = sorted(rows, key=lambda r: (r["kafka_partition"], r["kafka_offset"]))
    return days


@pytest.fixture
def two_logs(tmp_path):
    return filled(tmp_path / "alone.sqlite"), filled(tmp_path / "together.sqlite")


def test_days_landed_together_equal_each_day_landed_alone_from_one_read(two_logs, tmp_path):
    alone, together = Reads(two_logs[0]), Reads(two_logs[1])
    lake_alone, lake_together = LakeResource(root=str(tmp_path / "a")), LakeResource(root=str(tmp_path / "t"))

    each = {day: land_whole_day(alone.log, lake_alone, TABLE, OPENAQ_TOPIC, day, LANDING_GROUP, NEWEST) for day in RUN}
    joint = land_whole_days(together.log, lake_together, TABLE, OPENAQ_TOPIC, RUN, LANDING_GROUP, NEWEST)

    assert joint == each
    for table in (TABLE, f"{TABLE}_rejected", f"{TABLE}_held"):
        assert zone(tmp_path / "t", table) == zone(tmp_path / "a", table), table
    assert sorted(dlq_entries(together.log)) == sorted(dlq_entries(alone.log))

    # What that is, counted by hand from MESSAGES (partition 0: offsets 0-12, partition 1: 0-5).
    landed = {
        d: sorted((r["kafka_partition"], r["kafka_offset"]) for r in rows)
        for d, rows in zone(tmp_path / "t", TABLE).items()
    }
    assert landed == {
        "day=2026-11-17": [(0, 1), (0, 5), (0, 12)],
        "day=2026-11-18": [(0, 4), (1, 1), (1, 2)],
        "day=2026-11-19": [(0, 8), (1, 5)],  # not (0, 3): dated D3 by its header, before D3's first offset
    }
    rejected = zone(tmp_path / "t", f"{TABLE}_rejected")
    assert {d: [r["kafka_offset"] for r in rows] for d, rows in rejected.items()} == {
        "day=2026-11-17": [2],
        "day=2026-11-18": [9],
        "day=2026-11-19": [4],
        "day=2027-01-05": [10],
    }
    assert all(r["dead_lettered"] for rows in rejected.values() for r in rows)
    assert sorted(dlq_entries(together.log)) == [("0", "10"), ("0", "2"), ("0", "9"), ("1", "4")]
    held = zone(tmp_path / "t", f"{TABLE}_held")
    assert {d: [(r["kafka_partition"], r["kafka_offset"]) for r in rows] for d, rows in held.items()} == {
        "day=2027-01-05": [(0, 6), (1, 3)]
    }
    # D1's read holds and dead-letters the later day's messages; D2 and D3 see them again, add nothing.
    assert [(joint[d]["deferred"], joint[d]["held"], joint[d]["dead_lettered"]) for d in RUN] == [
        (3, 2, 2),
        (3, 0, 1),
        (3, 0, 1),
    ]
    assert [joint[d]["other_days"] for d in RUN] == [10, 7, 4]
    assert [joint[d]["covered"] for d in RUN] == [
        {"0": [[1, 13]], "1": [[1, 6]]},
        {"0": [[4, 13]], "1": [[1, 6]]},
        {"0": [[6, 13]], "1": [[3, 6]]},
    ]

    # One read of the union (offsets 1-12 and 1-5), where the days alone read from their own first
    # offsets (D2: 4 and 1, D3: 6 and 3, the later day's messages stamped after D3's start).
    assert together.records == 12 + 5
    assert alone.records == (12 + 5) + (9 + 5) + (7 + 3)

    # A replay of the run adds nothing and publishes nothing again.
    again = land_whole_days(together.log, lake_together, TABLE, OPENAQ_TOPIC, RUN, LANDING_GROUP, NEWEST)
    assert [(again[d]["added"], again[d]["dead_lettered"], again[d]["held"]) for d in RUN] == [(0, 0, 0)] * 3
    assert [again[d]["landed"] for d in RUN] == [joint[d]["landed"] for d in RUN] == [3, 3, 2]
    assert zone(tmp_path / "t", TABLE) == zone(tmp_path / "a", TABLE)
    assert len(dlq_entries(together.log)) == 4


def test_a_day_the_topic_no_longer_holds_fails_the_run_as_alone(two_logs, tmp_path):
    log = two_logs[1]
    lake = LakeResource(root=str(tmp_path / "t"))
    land_whole_days(log, lake, TABLE, OPENAQ_TOPIC, RUN, LANDING_GROUP, NEWEST)
    expire(log)
    with pytest.raises(NothingToLand, match=f"raw/{TABLE}/day={D1} holds 3 rows"):
        land_whole_days(log, lake, TABLE, OPENAQ_TOPIC, RUN, LANDING_GROUP, NEWEST)
    assert {d: len(rows) for d, rows in zone(tmp_path / "t", TABLE).items()} == {
        f"day={D1}": 3,
        f"day={D2}": 3,
        f"day={D3}": 2,
    }


def test_days_after_the_newest_partition_are_landed_day_by_day(two_logs, tmp_path):
    """A run day that is no partition yet releases its held messages after the earlier days held
    them: the one-read path does not apply, and the days land as each alone."""
    log = two_logs[1]
    lake = LakeResource(root=str(tmp_path / "t"))
    counts = land_whole_days(log, lake, TABLE, OPENAQ_TOPIC, [D1, LATER], LANDING_GROUP, NEWEST)
    assert (counts[D1]["held"], counts[LATER]["released"], counts[LATER]["landed"]) == (2, 2, 2)
    assert zone(tmp_path / "t", f"{TABLE}_held") == {}
    assert [(r["kafka_partition"], r["kafka_offset"]) for r in zone(tmp_path / "t", TABLE)[f"day={LATER}"]] == [
        (0, 6),
        (1, 3),
    ]


def test_a_range_run_of_the_landing_asset_reports_each_day_as_landed_alone(two_logs, tmp_path):
    """The asset of a single-run backfill: its `per_day` metadata (what the loss accounting reads)
    is each day's own landing's."""
    alone, together = Reads(two_logs[0]), Reads(two_logs[1])
    each = {
        day.isoformat(): land_whole_day(
            alone.log, LakeResource(root=str(tmp_path / "a")), TABLE, OPENAQ_TOPIC, day, LANDING_GROUP
        )
        for day in RUN
    }
    result = dg.materialize(
        [landing_of(OPENAQ)],
        resources={"kafka": together.log, "lake": LakeResource(root=str(tmp_path / "t"))},
        tags={
            "dagster/asset_partition_range_start": D1.isoformat(),
            "dagster/asset_partition_range_end": D3.isoformat(),
        },
    )
    events = result.get_asset_materialization_events()
    assert sorted(e.partition for e in events) == [d.isoformat() for d in RUN]
    metadata = events[0].materialization.metadata
    assert metadata["per_day"].value == each
    assert metadata["dagster/row_count"].value == 8 and metadata["mode"].value == "whole day"
    assert together.records == 12 + 5
