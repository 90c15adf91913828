"""The measurement transforms on their real output, one raw row per quirk."""

import json
from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from assets.landing import LANDED
from spark.transforms.measurements import (
    CLEAN_COLUMNS,
    clean_measurements,
    flag_measurements,
    quarantined_measurements,
)

DAY = date(2026, 11, 20)
FETCHED = datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc)


def measurement(value, start="2026-11-20T00:00:00Z", end="2026-11-20T01:00:00Z", **over):
    doc = {
        "value": value,
        "flagInfo": {"hasFlags": False},
        "parameter": {"id": 2, "name": "pm25", "units": "µg/m³", "displayName": None},
        "period": {
            "label": "raw",
            "interval": "01:00:00",
            "datetimeFrom": {"utc": start, "local": start},
            "datetimeTo": {"utc": end, "local": end},
        },
        "coordinates": None,
        "summary": None,
        "coverage": {"percentCoverage": 100.0},
    }
    doc.update(over)
    return json.dumps(doc)


def message(doc, sensor_id=100, fetched_at=FETCHED):
    """The `openaq.measurements` message value as the pull publishes it."""
    if not isinstance(doc, str):
        return doc
    return json.dumps(
        {"location_id": 10, "sensor_id": sensor_id, "fetched_at": fetched_at.isoformat(),
         "measurement": json.loads(doc)}
    )


# (message payload, expected reason or None)
CASES = [
    (message(measurement(12.5)), None),
    (message(measurement(14.0, "2026-11-20T01:00:00+00:00", "2026-11-20T02:00:00+00:00")), None),
    (message(measurement(-3.5, parameter={"id": 100, "name": "temperature", "units": "c"}), 101), None),
    (message(measurement(None, "2026-11-20T03:00:00Z", "2026-11-20T04:00:00Z")), "missing_value"),
    (message(measurement("n/a", "2026-11-20T04:00:00Z", "2026-11-20T05:00:00Z")), "non_numeric_value"),
    (message(measurement(-999, "2026-11-20T05:00:00Z", "2026-11-20T06:00:00Z")), "negative_value"),
    (message(measurement(5.0, parameter=None)), "missing_parameter"),
    (message(measurement(5.0, period=None)), "invalid_period"),
    (message(measurement(5.0, "2026-11-20T07:00:00Z", "2026-11-20T07:00:00Z")), "invalid_period"),
    (message(measurement(5.0, "2026-11-19T23:00:00Z", "2026-11-20T00:00:00Z")), "outside_partition_day"),
    ("{not json", "unparseable_payload"),
    (json.dumps({"location_id": 10, "sensor_id": 100, "fetched_at": "x"}), "unparseable_payload"),
]
# A later fetch of the first period with a corrected value (dedupe keeps it), and the
# quarantined "n/a" row pulled again (quarantined once).
LATER = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
REPEATS = [
    message(measurement(12.75), fetched_at=LATER),
    message(measurement("n/a", "2026-11-20T04:00:00Z", "2026-11-20T05:00:00Z"), fetched_at=LATER),
]


@pytest.fixture(scope="module")
def raw(spark, tmp_path_factory):
    payloads = [payload for payload, _ in CASES] + REPEATS
    n = len(payloads)
    table = pa.table(
        {
            "kafka_topic": ["openaq.measurements"] * n,
            "kafka_partition": [0] * n,
            "kafka_offset": list(range(n)),
            "kafka_key": ["100"] * n,
            "payload": payloads,
            "event_time": [FETCHED] * n,
            "ingested_at": [FETCHED] * n,
        },
        schema=LANDED,
    )
    path = tmp_path_factory.mktemp("raw") / "part-0.parquet"
    pq.write_table(table, path)
    return spark.read.parquet(str(path))


def test_every_row_is_either_clean_or_quarantined_with_its_reason(raw):
    flagged = flag_measurements(raw, DAY)
    got = {r.kafka_offset: r.reason for r in flagged.select("kafka_offset", "reason").collect()}
    for i, (_, reason) in enumerate(CASES):
        assert got[i] == reason, f"case {i}"
    clean = clean_measurements(flagged).count()
    quarantined = quarantined_measurements(flagged, DAY).count()
    duplicates = 2  # one clean, one quarantined
    assert clean + quarantined + duplicates == raw.count()


def test_clean_rows_are_typed_utc_and_deduplicated(spark, raw):
    clean = clean_measurements(flag_measurements(raw, DAY))
    expected = spark.createDataFrame(
        [
            Row(100, 10, 2, "pm25", "µg/m³", 12.75, datetime(2026, 11, 20, 0), datetime(2026, 11, 20, 1)),
            Row(100, 10, 2, "pm25", "µg/m³", 14.0, datetime(2026, 11, 20, 1), datetime(2026, 11, 20, 2)),
            Row(101, 10, 100, "temperature", "c", -3.5, datetime(2026, 11, 20, 0), datetime(2026, 11, 20, 1)),
        ],
        "sensor_id long, location_id long, parameter_id long, parameter_name string, units string,"
        " value double, period_start_utc timestamp_ntz, period_end_utc timestamp_ntz",
    )
    assertDataFrameEqual(clean.select(*expected.columns), expected)
    assert clean.columns == CLEAN_COLUMNS
    assert {r.measured_on for r in clean.select("measured_on").collect()} == {DAY}


def test_quarantine_keeps_the_payload_as_received(raw):
    quarantined = quarantined_measurements(flag_measurements(raw, DAY), DAY)
    rows = {r.reason: r for r in quarantined.collect()}
    payloads = {r.payload for r in quarantined.collect() if r.reason == "unparseable_payload"}
    assert "{not json" in payloads
    assert json.loads(rows["non_numeric_value"].payload)["measurement"]["value"] == "n/a"
    assert {r.partition_day for r in rows.values()} == {DAY}
