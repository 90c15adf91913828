"""The ad events transforms on their real output: one raw Kafka message per quirk or fault."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.testing import assertDataFrameEqual

from spark.schemas.clean_ads import CLEAN_ADS
from spark.transforms.ecommerce.ads import (
    CLEAN_COLUMNS,
    clean_ad_events,
    flag_ad_events,
    quarantined_ad_events,
)

DAY = date(2026, 11, 20)
INGESTED = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
RAW_ARROW = pa.schema(
    [
        ("payload", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


def event(n, kind="impression", campaign="C001", ts="2026-11-20T10:00:00.000Z", cost=0.0035, revenue=0.0, **extra):
    doc = {"event_id": f"E{n}", "campaign_id": campaign, "event_type": kind, "ts": ts, "cost": cost}
    return json.dumps({**doc, "revenue": revenue, **extra})


NEGATIVE = event(4, "click", cost=-0.45)
# (payload, offset, expected reason)
CASES = [
    (event(1), 1, None),
    (
        event(2, "conversion", ts="2026-11-20T11:30:00+01:00", cost=0, revenue=76.5, order_id="O-20261120-00075"),
        2,
        None,
    ),
    (event(1), 3, None),  # re-sent: the first delivery is kept, this one counted as a duplicate
    (event(3, ts="2026-11-19T23:53:00.000Z"), 4, None),  # late: kept, flagged
    (event(9, "click", campaign="C999", cost=0.3), 5, None),  # unknown campaign: dbt's concern
    (event(10, "CLICK", cost=0.45), 6, None),  # the type's case is not a fault
    (NEGATIVE, 10, "negative_cost"),
    (NEGATIVE, 11, "negative_cost"),  # a re-sent bad event is quarantined once
    (event(5, "view"), 12, "unknown_event_type"),
    (event(6, campaign=None), 13, "missing_campaign_id"),
    (event(7, ts="2026-11-20 25:61"), 14, "unparseable_ts"),
    (event(8, ts="2026-11-21T00:00:01Z"), 15, "ts_after_partition_day"),
    ("{not json", 16, "unparseable_payload"),
    (event(11, "conversion", cost=0, revenue=10.0), 17, "conversion_without_order"),
    (event(12, cost="n/a"), 18, "invalid_cost"),
    # Money is read as the JSON number's exact text: more scale than micros is refused, not rounded.
    (event(13, cost=0.0000005), 20, "invalid_cost"),
    (event(14, cost=0.1 + 0.2), 21, "invalid_cost"),  # a float's 0.30000000000000004
    (event(15, "conversion", revenue=1e20, order_id="O-1"), 22, "invalid_revenue"),  # beyond decimal(18,6)
    (event(16, "click", cost=0.123456), 23, None),  # six decimals: exact
    (json.dumps({"campaign_id": "C001", "event_type": "click"}), 19, "missing_event_id"),
]


@pytest.fixture(scope="module")
def flagged(spark, tmp_path_factory):
    path = tmp_path_factory.mktemp("raw_ads") / "part.parquet"
    rows = {
        "payload": [p for p, _, _ in CASES],
        "kafka_topic": ["ads.events"] * len(CASES),
        "kafka_partition": [0] * len(CASES),
        "kafka_offset": [o for _, o, _ in CASES],
        "ingested_at": [INGESTED] * len(CASES),
    }
    pq.write_table(pa.Table.from_pydict(rows, schema=RAW_ARROW), path)
    return flag_ad_events(spark.read.parquet(str(path)), DAY).cache()


def test_every_row_gets_its_reason(flagged):
    got = {r["kafka_offset"]: r["reason"] for r in flagged.select("kafka_offset", "reason").collect()}
    assert got == {o: reason for _, o, reason in CASES}


def test_clean_rows_are_typed_utc_and_deduplicated(spark, flagged):
    ingested = datetime(2026, 11, 20, 6, 0)  # naive UTC wall clock

    def row(n, kind, campaign, ts, cost, revenue=0.0, order=None, late=False):
        money = (Decimal(str(cost)).quantize(Decimal("0.000001")), Decimal(str(revenue)).quantize(Decimal("0.000001")))
        return (f"E{n}", campaign, kind, ts, ts.date(), *money, order, late, DAY, ingested)

    expected = spark.createDataFrame(
        [
            row(1, "impression", "C001", datetime(2026, 11, 20, 10), 0.0035),
            row(2, "conversion", "C001", datetime(2026, 11, 20, 10, 30), 0.0, 76.5, "O-20261120-00075"),
            row(3, "impression", "C001", datetime(2026, 11, 19, 23, 53), 0.0035, late=True),
            row(9, "click", "C999", datetime(2026, 11, 20, 10), 0.3),
            row(10, "click", "C001", datetime(2026, 11, 20, 10), 0.45),
            row(16, "click", "C001", datetime(2026, 11, 20, 10), 0.123456),
        ],
        clean_ad_events(flagged).schema,
    )
    actual = clean_ad_events(flagged)
    assert actual.columns == CLEAN_COLUMNS
    # The clean table's contract, which the catalogue shows: names, order and Spark types.
    assert actual.dtypes == [(c.name, c.type) for c in CLEAN_ADS]
    assert dict(actual.dtypes)["event_ts"] == "timestamp_ntz"
    assert (dict(actual.dtypes)["cost"], dict(actual.dtypes)["revenue"]) == ("decimal(18,6)", "decimal(18,6)")
    assertDataFrameEqual(actual, expected)


def test_quarantine_keeps_the_payload_and_reason_once_per_payload(flagged):
    rows = quarantined_ad_events(flagged, DAY).collect()
    assert sorted((r["reason"], r["payload"]) for r in rows) == sorted(
        {(reason, payload) for payload, _, reason in CASES if reason}
    )
    assert {r["partition_day"] for r in rows} == {DAY}
    assert all(r["kafka_topic"] == "ads.events" for r in rows)
