"""One event-time rule: the same stamps through every path that reads one (the core parser, the
ad landing's message time, Spark's helper and a real transform) get the same verdict."""

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from assets.ads_events import message_time
from assets.core.event_time import parse_utc
from spark.transforms.ecommerce.ads import parse_ad_events
from spark.transforms.event_time import utc_ntz

FIVE = datetime(2026, 11, 20, 5, tzinfo=UTC)
# The verdicts the issue names: an offset, "Z", no offset (UTC), and not a stamp.
KNOWN = {
    "2026-11-20T06:00:00+01:00": FIVE,
    "2026-11-20T00:00:00-05:00": FIVE,
    "2026-11-20T05:00:00Z": FIVE,
    "2026-11-20T05:00:00.674Z": FIVE.replace(microsecond=674000),
    "2026-11-20T05:00:00": FIVE,
    "2026-11-20 05:00:00": FIVE,
    "2026-11-20": FIVE.replace(hour=0),
    "garbage": None,
    "": None,
    "2026-11-20T25:00:00Z": None,
    "2026-02-30T00:00:00Z": None,
}
# Where Python's and Spark's parsers disagree on their own; the shared grammar decides.
EDGES = [
    "2026-11-20T05:00Z",  # Python alone would accept these four
    "2026-11-20T05Z",
    "20261120T050000Z",
    "2026-W47-5",
    "2026-11-20T05:00:00+19:00",
    "2026-11-20T05:00:00 UTC",  # Spark alone would accept these two
    "+2026-11-20T05:00:00Z",
    "2026-11-20T05:00:00z",
    "2026-11-20T05:00:00+18:00",
    "2026-11-20T05:00:00+01",
    "2026-11-20T05:00:00-0500",
    "2026-11-20T05:00:00+05:60",
    "2026-11-20T24:00:00Z",
    "2026-11-20T23:59:60Z",
    "2026-11-20T05:00:00.123456789Z",
    "2026-11-20T05:00:00.1234567890Z",
    "2026-11-20T05:00:00.5+05:30",
    " 2026-11-20T05:00:00Z ",
    "2026-11-20T05:00:00Z\n",
    "2026-11-20T05:00:00Z\t",
    "２０２６-11-20T05:00:00Z",
    "2026-324",
    "2026-11-20T05:00:00+00:00[UTC]",
]
STAMPS = [*KNOWN, *EDGES]


def naive(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def test_the_core_gives_the_named_verdicts():
    assert {stamp: parse_utc(stamp) for stamp in KNOWN} == KNOWN


@pytest.mark.parametrize("stamp", STAMPS)
def test_the_ad_landing_reads_a_stamp_as_the_core_does(stamp):
    moment = parse_utc(stamp)
    if moment is None:  # not a time: the message is dated at its pull day's start
        day_start = datetime(2026, 11, 20, tzinfo=UTC)
        assert message_time({"ts": stamp}, day_start) == day_start
    else:
        day_start = datetime.combine(moment.date(), datetime.min.time(), UTC)
        assert message_time({"ts": stamp}, day_start) == moment
        assert message_time({"ts": stamp}, day_start + timedelta(days=1)) == day_start + timedelta(days=1)


@pytest.fixture(scope="module")
def stamps(spark, tmp_path_factory):
    # Read from a file, as every transform reads its input.
    path = tmp_path_factory.mktemp("stamps") / "stamps.parquet"
    pq.write_table(pa.table({"n": list(range(len(STAMPS))), "stamp": STAMPS}), path)
    return spark.read.parquet(str(path))


def test_spark_gives_every_stamp_the_cores_verdict(stamps):
    rows = stamps.select("n", utc_ntz(F.col("stamp")).alias("at")).collect()
    assert {STAMPS[row.n]: row.at for row in rows} == {stamp: naive(parse_utc(stamp)) for stamp in STAMPS}


def test_the_ad_transform_reads_event_times_by_the_same_rule(spark, tmp_path):
    payloads = [json.dumps({"event_id": f"E{n}", "ts": stamp}) for n, stamp in enumerate(STAMPS)]
    path = tmp_path / "raw.parquet"
    ingested = [datetime(2026, 11, 20, 6, tzinfo=UTC)] * len(STAMPS)
    pq.write_table(pa.table({"payload": payloads, "ingested_at": ingested}), path)
    rows = parse_ad_events(spark.read.parquet(str(path))).select("event_id", "event_ts", "event_date").collect()
    got = {STAMPS[int(row.event_id[1:])]: (row.event_ts, row.event_date) for row in rows}
    expected = {stamp: (naive(parse_utc(stamp)), parse_utc(stamp) and parse_utc(stamp).date()) for stamp in STAMPS}
    assert got == expected
    assert got["2026-11-20T05:00:00"] == (datetime(2026, 11, 20, 5), date(2026, 11, 20))  # no offset: UTC
