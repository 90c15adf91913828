import json
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from assets.core.codec import prepare
from orchestration.resources.kafka import OffsetRange, TopicMessage, partition_for, split_ranges

T = "openaq.measurements"


@pytest.mark.parametrize(
    "starts, ends, max_batch, expected",
    [
        ({}, {}, 10, []),
        ({0: 5}, {0: 5}, 10, []),  # nothing new
        ({}, {0: 3}, 10, [(0, 0, 3)]),  # a partition never consumed starts at 0
        ({0: 2}, {0: 12}, 10, [(0, 2, 12)]),  # exactly one full batch
        ({0: 2}, {0: 13}, 10, [(0, 2, 12), (0, 12, 13)]),  # remainder in its own range
        ({0: 0}, {0: 3}, 1, [(0, 0, 1), (0, 1, 2), (0, 2, 3)]),
        ({2: 1, 0: 0}, {2: 2, 1: 1, 0: 0}, 5, [(1, 0, 1), (2, 1, 2)]),  # sorted by partition
        ({0: 9}, {0: 4}, 10, []),  # cursor beyond the end (topic recreated): nothing, not a bad range
    ],
)
def test_split_ranges(starts, ends, max_batch, expected):
    ranges = split_ranges(T, starts, ends, max_batch)
    assert [(r.partition, r.start, r.end) for r in ranges] == expected
    assert all(r.topic == T and 0 < r.end - r.start <= max_batch for r in ranges)


def test_split_ranges_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="max_batch"):
        split_ranges(T, {}, {0: 1}, 0)


def test_run_key_names_topic_partition_and_range():
    assert OffsetRange(T, 2, 100, 150).run_key() == "openaq.measurements/2/100-150"


def test_partition_for_is_crc32_like_librdkafka():
    # Python's hash() is salted per process: a sensor daemon and a run worker would disagree.
    assert partition_for("3917", 3) == zlib.crc32(b"3917") % 3
    assert {partition_for(str(k), 3) for k in range(100)} == {0, 1, 2}


def test_prepare_builds_headers_timestamp_and_payload(make_measurement):
    at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    p = prepare(T, make_measurement(3917, at), source="openaq")
    assert (p.topic, p.key, p.reason) == (T, "3917", None)
    assert p.timestamp_ms == int(at.timestamp() * 1000)
    assert p.headers == {
        "source": "openaq",
        "schema_version": "1",
        "partition_day": "2026-11-20",
        "event_time": "2026-11-20T23:30:00+00:00",
    }
    assert "µg/m³" in p.payload.decode("utf-8")  # ensure_ascii=False: UTF-8, not \u escapes
    assert json.loads(p.payload) == p.value


def test_prepare_routes_an_invalid_value_to_the_dlq():
    at = datetime(2026, 11, 20, tzinfo=UTC)
    p = prepare(T, TopicMessage("1", {"sensor_id": 1}, at), source="openaq")
    assert p.topic == "openaq.measurements.dlq"
    assert p.headers["original_topic"] == T and p.headers["dlq_reason"].startswith("schema: ")


@pytest.mark.parametrize("at", [datetime(2026, 11, 20), datetime(2026, 11, 20, tzinfo=timezone(timedelta(hours=1)))])
def test_prepare_refuses_an_event_time_that_is_not_utc(make_measurement, at):
    # The partition_day header must be the UTC day; a local time would shift late events a day.
    with pytest.raises(ValueError, match="UTC"):
        prepare(T, make_measurement(1, at), source="openaq")
