"""The measurement transforms on their real output, one raw row per quirk."""

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from assets.landing.decode import LANDED
from assets.openaq_clean import SEEDS_DIR
from spark.schemas.clean_measurements import CLEAN_MEASUREMENTS
from spark.transforms.days import DAY as DAY_COLUMN
from spark.transforms.measurements import (
    CLEAN_COLUMNS,
    clean_measurements,
    flag_measurements,
    quarantined_measurements,
)
from spark.transforms.plausibility import read_plausibility

DAY = date(2026, 11, 20)
FETCHED = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


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


TEMP = {"id": 100, "name": "temperature", "units": "c"}
RH = {"id": 98, "name": "relativehumidity", "units": "%"}


def message(doc, sensor_id=100, fetched_at=FETCHED):
    """The `openaq.measurements` message value as the pull publishes it."""
    if not isinstance(doc, str):
        return doc
    return json.dumps(
        {
            "location_id": 10,
            "sensor_id": sensor_id,
            "fetched_at": fetched_at.isoformat(),
            "measurement": json.loads(doc),
        }
    )


# (message payload, expected reason or None)
CASES = [
    (message(measurement(12.5)), None),
    (message(measurement(14.0, "2026-11-20T01:00:00+00:00", "2026-11-20T02:00:00+00:00")), None),
    (message(measurement(-3.5, parameter={"id": 100, "name": "temperature", "units": "c"}), 101), None),
    (message(measurement(None, "2026-11-20T03:00:00Z", "2026-11-20T04:00:00Z")), "missing_value"),
    (message(measurement("n/a", "2026-11-20T04:00:00Z", "2026-11-20T05:00:00Z")), "non_numeric_value"),
    (message(measurement(-999, "2026-11-20T05:00:00Z", "2026-11-20T06:00:00Z")), "sentinel_value"),
    (message(measurement(5.0, parameter=None)), "missing_parameter"),
    (message(measurement(5.0, period=None)), "invalid_period"),
    (message(measurement(5.0, "2026-11-20T07:00:00Z", "2026-11-20T07:00:00Z")), "invalid_period"),
    (message(measurement(5.0, "2026-11-19T23:00:00Z", "2026-11-20T00:00:00Z")), "outside_partition_day"),
    ("{not json", "unparseable_payload"),
    (json.dumps({"location_id": 10, "sensor_id": 100, "fetched_at": "x"}), "unparseable_payload"),
    # The plausibility rules (the dbt seeds): sentinels on signed parameters too, bounds per
    # parameter and units inclusive, and no bounds row is no pass.
    (
        message(measurement(-999.0, "2026-11-20T06:00:00Z", "2026-11-20T07:00:00Z", parameter=TEMP), 101),
        "sentinel_value",
    ),
    (message(measurement(9999, "2026-11-20T07:00:00Z", "2026-11-20T08:00:00Z", parameter=TEMP), 101), "sentinel_value"),
    (
        message(measurement(-95.0, "2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", parameter=TEMP), 101),
        "implausible_value",
    ),
    (message(measurement(-0.4, "2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z")), "implausible_value"),
    (message(measurement(2000.5, "2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z")), "implausible_value"),
    (message(measurement(100.0, parameter=RH), 102), None),
    (
        message(measurement(100.1, "2026-11-20T01:00:00Z", "2026-11-20T02:00:00Z", parameter=RH), 102),
        "implausible_value",
    ),
    (message(measurement(5.0, parameter={"id": 2, "name": "pm25", "units": "ppb"}), 103), "unknown_units"),
    (message(measurement(5.0, parameter={"id": 999, "name": "radon", "units": "Bq/m³"}), 104), "unknown_units"),
]
# A later fetch of the first period with a corrected value (dedupe keeps it), and the
# quarantined "n/a" row pulled again (quarantined once).
LATER = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
REPEATS = [
    message(measurement(12.75), fetched_at=LATER),
    message(measurement("n/a", "2026-11-20T04:00:00Z", "2026-11-20T05:00:00Z"), fetched_at=LATER),
]


@pytest.fixture(scope="module")
def rules(spark):
    return read_plausibility(spark, SEEDS_DIR)


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


def test_every_row_is_either_clean_or_quarantined_with_its_reason(raw, rules):
    flagged = flag_measurements(raw, DAY, rules)
    rows = {r.kafka_offset: r for r in flagged.select("kafka_offset", "reason", "payload").collect()}
    for i, (payload, reason) in enumerate(CASES):
        assert rows[i].reason == reason, f"case {i}"
        # The flagged frame is cached: only a rejected row, bound for the quarantine, keeps its payload.
        assert rows[i].payload == (payload if reason else None), f"case {i}"
    clean = clean_measurements(flagged).count()
    quarantined = quarantined_measurements(flagged, DAY).count()
    duplicates = 2  # one clean, one quarantined
    assert clean + quarantined + duplicates == raw.count()


def test_clean_rows_are_typed_utc_and_deduplicated(spark, raw, rules):
    clean = clean_measurements(flag_measurements(raw, DAY, rules))
    expected = spark.createDataFrame(
        [
            Row(100, 10, 2, "pm25", "µg/m³", 12.75, datetime(2026, 11, 20, 0), datetime(2026, 11, 20, 1)),
            Row(100, 10, 2, "pm25", "µg/m³", 14.0, datetime(2026, 11, 20, 1), datetime(2026, 11, 20, 2)),
            Row(101, 10, 100, "temperature", "c", -3.5, datetime(2026, 11, 20, 0), datetime(2026, 11, 20, 1)),
            Row(102, 10, 98, "relativehumidity", "%", 100.0, datetime(2026, 11, 20, 0), datetime(2026, 11, 20, 1)),
        ],
        "sensor_id long, location_id long, parameter_id long, parameter_name string, units string,"
        " value double, period_start_utc timestamp_ntz, period_end_utc timestamp_ntz",
    )
    assertDataFrameEqual(clean.select(*expected.columns), expected)
    assert clean.columns == CLEAN_COLUMNS
    # The clean table's contract, which the catalogue shows: names, order and Spark types.
    assert clean.dtypes == [(c.name, c.type) for c in CLEAN_MEASUREMENTS]
    assert {r.measured_on for r in clean.select("measured_on").collect()} == {DAY}


def test_quarantine_keeps_the_payload_as_received(raw, rules):
    quarantined = quarantined_measurements(flag_measurements(raw, DAY, rules), DAY)
    rows = {r.reason: r for r in quarantined.collect()}
    payloads = {r.payload for r in quarantined.collect() if r.reason == "unparseable_payload"}
    assert "{not json" in payloads
    assert json.loads(rows["non_numeric_value"].payload)["measurement"]["value"] == "n/a"
    assert {r.partition_day for r in rows.values()} == {DAY}


def test_the_rules_are_the_dbt_seeds(rules):
    bounds = {(r.parameter_name, r.units): (r.min_value, r.max_value) for r in rules.bounds.collect()}
    assert bounds[("pm25", "µg/m³")] == (0.0, 2000.0)
    assert bounds[("temperature", "c")] == (-90.0, 65.0)
    assert bounds[("relativehumidity", "%")] == (0.0, 100.0)
    assert all(low >= 0 for (name, _), (low, _) in bounds.items() if name not in ("temperature", "pressure"))
    assert {-999.0, -9999.0, 9999.0} <= set(rules.sentinels)


def test_rules_without_bounds_are_refused(spark, tmp_path):
    (tmp_path / "measurement_bounds.csv").write_text("parameter_name,units,min_value,max_value\n")
    (tmp_path / "measurement_sentinels.csv").write_text("sentinel_value\n-999\n")
    with pytest.raises(ValueError, match="no bounds"):
        read_plausibility(spark, tmp_path)


def test_a_range_of_days_is_cleaned_as_each_day_alone(raw, rules):
    """The same raw rows landed on two days, flagged as one frame (the day a column, as a
    backfill's range is): each output equals the union of the days cleaned alone, so nothing
    folds across days (the re-pulled "n/a" row is quarantined once on EACH day)."""
    days = [DAY - timedelta(days=1), DAY]
    ranged = raw.withColumn(DAY_COLUMN, F.lit(days[0])).unionByName(raw.withColumn(DAY_COLUMN, F.lit(days[1])))
    flagged = flag_measurements(ranged, F.col(DAY_COLUMN), rules)
    alone = [flag_measurements(raw, day, rules) for day in days]

    clean = clean_measurements(flagged)
    assertDataFrameEqual(clean, clean_measurements(alone[0]).unionByName(clean_measurements(alone[1])))
    # The day before keeps the one period that starts on it; the day keeps its own.
    assert {r.measured_on for r in clean.select("measured_on").collect()} == set(days)

    quarantined = quarantined_measurements(flagged, F.col(DAY_COLUMN))
    each = [quarantined_measurements(frame, day) for frame, day in zip(alone, days, strict=True)]
    assertDataFrameEqual(quarantined, each[0].unionByName(each[1]))
    not_numeric = quarantined.where("reason = 'non_numeric_value'").groupBy("partition_day").count().collect()
    assert sorted((r.partition_day, r["count"]) for r in not_numeric) == [(days[0], 1), (days[1], 1)]
