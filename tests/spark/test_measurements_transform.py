"""The measurement transforms on their real output, one raw row per quirk."""

import json
from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from assets.openaq_raw import RAW_MEASUREMENTS
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


# (payload, page_error, expected reason or None)
CASES = [
    (measurement(12.5), None, None),
    (measurement(14.0, "2026-11-20T01:00:00+00:00", "2026-11-20T02:00:00+00:00"), None, None),
    (measurement(-3.5, parameter={"id": 100, "name": "temperature", "units": "c"}), None, None),
    (measurement(None, "2026-11-20T03:00:00Z", "2026-11-20T04:00:00Z"), None, "missing_value"),
    (measurement("n/a", "2026-11-20T04:00:00Z", "2026-11-20T05:00:00Z"), None, "non_numeric_value"),
    (measurement(-999, "2026-11-20T05:00:00Z", "2026-11-20T06:00:00Z"), None, "negative_value"),
    (measurement(5.0, parameter=None), None, "missing_parameter"),
    (measurement(5.0, period=None), None, "invalid_period"),
    (measurement(5.0, "2026-11-20T07:00:00Z", "2026-11-20T07:00:00Z"), None, "invalid_period"),
    (measurement(5.0, "2026-11-19T23:00:00Z", "2026-11-20T00:00:00Z"), None, "outside_partition_day"),
    ("{not json", None, "unparseable_payload"),
    ("<html>502</html>", "body is not JSON", "malformed_page: body is not JSON"),
]


@pytest.fixture(scope="module")
def raw(spark, tmp_path_factory):
    rows = {name: [] for name in RAW_MEASUREMENTS.names}
    for i, (payload, error, _) in enumerate(CASES):
        rows["location_id"].append(10)
        rows["sensor_id"].append(100 if i != 2 else 101)
        rows["page"].append(1)
        rows["row_in_page"].append(i)
        rows["payload"].append(payload)
        rows["page_error"].append(error)
        rows["fetched_at"].append(FETCHED)
    # A later fetch of the first row's period with a corrected value: dedupe keeps it.
    for name, value in zip(RAW_MEASUREMENTS.names, [10, 100, 2, 0, measurement(12.75), None, FETCHED]):
        rows[name].append(value)
    path = tmp_path_factory.mktemp("raw") / "part-0.parquet"
    pq.write_table(pa.table(rows, schema=RAW_MEASUREMENTS), path)
    return spark.read.parquet(str(path))


def test_every_row_is_either_clean_or_quarantined_with_its_reason(raw):
    flagged = flag_measurements(raw, DAY)
    got = {(r.row_in_page, r.page): r.reason for r in flagged.select("row_in_page", "page", "reason").collect()}
    for i, (_, _, reason) in enumerate(CASES):
        assert got[(i, 1)] == reason, f"case {i}"
    clean = clean_measurements(flagged).count()
    quarantined = quarantined_measurements(flagged, DAY).count()
    duplicates = 1
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
    assert rows["unparseable_payload"].payload == "{not json"
    assert rows["malformed_page: body is not JSON"].payload == "<html>502</html>"
    assert json.loads(rows["non_numeric_value"].payload)["value"] == "n/a"
    assert {r.partition_day for r in rows.values()} == {DAY}
