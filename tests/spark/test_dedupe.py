"""One dedupe rule (spark/transforms/dedupe.py), and every transform keeps its copies by it."""

import ast
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from spark.transforms.days import DAY as DAY_COLUMN
from spark.transforms.dedupe import KAFKA_ORDER, keep_one
from spark.transforms.ecommerce.ads import clean_ad_events, flag_ad_events, quarantined_ad_events
from spark.transforms.measurements import clean_measurements, flag_measurements, quarantined_measurements
from spark.transforms.plausibility import read_plausibility
from spark.transforms.users import clean_users, flag_users, quarantined_users

REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
RAW = pa.schema(
    [
        ("payload", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)
# Four copies of one message landed at the same instant: two partitions, two offsets in each,
# listed out of order. An offset-before-partition order would keep (0, 9) as the last copy.
COPIES = [(1, 2), (0, 9), (1, 3), (0, 7)]
FIRST, LAST = (0, 7), (1, 3)  # by partition, then offset: the ends of sorted(COPIES)


def test_keep_one_keeps_the_first_or_last_copy_per_day_and_key(spark):
    rows = spark.createDataFrame(
        [
            (DAY, "a", 1, 5, "a-1-5"),
            (DAY, "a", 2, 1, "a-2-1"),
            (DAY, "a", 1, 9, "a-1-9"),
            (DAY, "b", None, 1, "b-null"),  # a null is the smallest value
            (DAY, "b", 0, 0, "b-0-0"),
            (date(2026, 11, 21), "a", 0, 0, "a-next-day"),  # another day: its own copy
        ],
        f"{DAY_COLUMN} date, k string, p int, o int, tag string",
    )
    first = keep_one(rows, ["k"], ["p", "o"], keep="first")
    last = keep_one(rows, ["k"], ["p", "o"], keep="last")
    assert first.columns == rows.columns and last.columns == rows.columns
    assert sorted(r.tag for r in first.collect()) == ["a-1-5", "a-next-day", "b-null"]
    assert sorted(r.tag for r in last.collect()) == ["a-2-1", "a-next-day", "b-0-0"]
    with pytest.raises(ValueError, match="needs an order"):
        keep_one(rows, ["k"], [], keep="first")
    with pytest.raises(ValueError, match="needs an order"):
        keep_one(rows, ["k"], ["p"], keep="latest")


def _measurement(tag):
    period = {"datetimeFrom": {"utc": "2026-11-20T00:00:00Z"}, "datetimeTo": {"utc": "2026-11-20T01:00:00Z"}}
    doc = {"value": tag, "parameter": {"id": 2, "name": "pm25", "units": "µg/m³"}, "period": period}
    return {"location_id": 10, "sensor_id": 100, "fetched_at": AT.isoformat(), "measurement": doc}


def _user(tag):
    user = {
        "login": {"uuid": "6f1c2a3b-4d5e-4f60-8a7b-000000000001"},
        "name": {"first": "Dwayne", "last": "Stewart"},
        "email": f"copy-{tag}@example.com",
        "dob": {"date": "1993-07-20T09:44:18.674Z"},
        "registered": {"date": "2012-03-04T05:06:07.089Z"},
    }
    return {"fetched_at": AT.isoformat(), "user": user}


def _ad(tag):
    return {
        "event_id": "E1",
        "campaign_id": "C001",
        "event_type": "click",
        "ts": "2026-11-20T05:00:00Z",
        "cost": tag,
        "revenue": 0,
    }


def _measurements(raw, rules):
    return clean_measurements(flag_measurements(raw, DAY, rules)).select(F.col("value").cast("int"))


def _users(raw, _):
    return clean_users(flag_users(raw, DAY)).select(F.regexp_extract("email", r"copy-(\d+)@", 1).cast("int"))


def _ads(raw, _):
    return clean_ad_events(flag_ad_events(raw, DAY)).select(F.col("cost").cast("int"))


# stream -> (the message of copy `tag`, its clean step giving the kept copies' tags, the copy it keeps)
STREAMS = {
    "openaq_measurements": (_measurement, _measurements, LAST),
    "randomuser_users": (_user, _users, LAST),
    "ads_events": (_ad, _ads, FIRST),
}


def _tag(partition, offset):
    return partition * 100 + offset


def _landed(spark, tmp_path, topic, payloads):
    """`payloads` landed as the copies of COPIES, all at the same instant."""
    rows = {
        "payload": payloads,
        "kafka_topic": [topic] * len(COPIES),
        "kafka_partition": [p for p, _ in COPIES],
        "kafka_offset": [o for _, o in COPIES],
        "ingested_at": [AT] * len(COPIES),
    }
    pq.write_table(pa.Table.from_pydict(rows, schema=RAW), tmp_path / "part.parquet")
    return spark.read.parquet(str(tmp_path))


@pytest.mark.parametrize("stream", list(STREAMS))
def test_every_kafka_stream_breaks_a_tie_by_the_one_order(spark, tmp_path, stream):
    """Copies tied on ingested_at: every stream orders them partition, then offset (KAFKA_ORDER);
    the latest-fetch streams keep the last of that order, the ad stream (first delivery wins)
    the first."""
    message, kept_tags, kept = STREAMS[stream]
    raw = _landed(spark, tmp_path, stream, [json.dumps(message(_tag(p, o))) for p, o in COPIES])
    rules = read_plausibility(spark, REPO / "dbt" / "seeds")
    assert [r[0] for r in kept_tags(raw, rules).collect()] == [_tag(*kept)]
    assert KAFKA_ORDER == ("ingested_at", "kafka_partition", "kafka_offset")


# stream -> (one rejected message, flag + quarantine)
REJECTED = {
    "openaq_measurements": (
        _measurement("n/a"),
        lambda raw, rules: quarantined_measurements(flag_measurements(raw, DAY, rules), DAY),
    ),
    "randomuser_users": (
        {**_user(0), "user": {"login": {"uuid": "not-a-uuid"}}},
        lambda raw, _: quarantined_users(flag_users(raw, DAY), DAY),
    ),
    "ads_events": (_ad(-1), lambda raw, _: quarantined_ad_events(flag_ad_events(raw, DAY), DAY)),
}


@pytest.mark.parametrize("stream", list(REJECTED))
def test_every_kafka_stream_quarantines_the_first_copy_of_a_rejected_message(spark, tmp_path, stream):
    message, quarantine = REJECTED[stream]
    raw = _landed(spark, tmp_path, stream, [json.dumps(message)] * len(COPIES))
    rules = read_plausibility(spark, REPO / "dbt" / "seeds")
    kept = quarantine(raw, rules).select("kafka_partition", "kafka_offset", "reason").collect()
    assert [(r.kafka_partition, r.kafka_offset) for r in kept] == [FIRST]
    assert kept[0].reason is not None


TRANSFORMS = REPO / "spark" / "transforms"
# Calls that keep one row of several: a ranking window, or Spark's own pick of an arbitrary copy.
RANKING = {"row_number", "rank", "dense_rank", "percent_rank", "dropDuplicates", "drop_duplicates"}
# A catalogue snapshot lists each location once; the fold guards a page overlap, whose copies
# carry no landing order (one fetch per snapshot) to break a tie by. Left as it is (issue 24).
FOLDS_NO_STREAM = {"catalogue.py"}


def _ranked_windows(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr in RANKING)
        or (isinstance(node, ast.Name) and node.id in RANKING)
    ]


def test_no_transform_ranks_its_own_copies():
    """Keeping one copy is the dedupe helper's: a transform that numbers rows over a window of
    its own has a tie-break order of its own, and one that drops duplicates keeps any copy."""
    found = {
        str(path.relative_to(REPO)): lines
        for path in sorted(TRANSFORMS.rglob("*.py"))
        if path.name not in {"dedupe.py", *FOLDS_NO_STREAM} and (lines := _ranked_windows(path))
    }
    assert found == {}
    assert _ranked_windows(TRANSFORMS / "dedupe.py")  # the scan sees the helper's own
