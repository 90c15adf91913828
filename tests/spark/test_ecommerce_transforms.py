"""The e-commerce Spark transforms on real raw files: pseudonyms, reasons, dedupe, versions."""

import hashlib
import hmac
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from assets.ecommerce.records import raw_batch, split_file
from spark.transforms.ecommerce import orders, social, weblogs
from spark.transforms.ecommerce.pseudonym import hmac_sha256

DAY = date(2026, 11, 20)
KEY = b"test-key-not-a-secret"


def raw_frame(spark, tmp_path, file_format: str, versions: list[tuple[str, bytes, datetime]]):
    """Raw rows of file versions (name, bytes, received_at), written and read as Parquet."""
    for n, (name, data, received_at) in enumerate(versions):
        header, records = split_file(file_format, data)
        meta = {
            "source_file": f"x/{DAY}/{name}",
            "file_sha256": hashlib.sha256(data).hexdigest(),
            "file_bytes": len(data),
            "received_at": received_at,
            "ingest_run_id": "run",
        }
        pq.write_table(pa.Table.from_batches([raw_batch(records, header, meta)]), tmp_path / f"{n}.parquet")
    return spark.read.parquet(str(tmp_path))


def test_the_spark_hmac_is_rfc_2104_hmac_sha256(spark):
    values = ["ann@example.com", "", "é@ü.de", "x" * 200]
    frame = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in frame.select(hmac_sha256(F.col("v"), KEY)).collect()]
    assert got == [hmac.new(KEY, v.encode(), hashlib.sha256).hexdigest() for v in values]
    long_key = b"k" * 100  # longer than the block: hashed first, as RFC 2104 says
    (row,) = frame.limit(1).select(hmac_sha256(F.col("v"), long_key)).collect()
    assert row[0] == hmac.new(long_key, values[0].encode(), hashlib.sha256).hexdigest()


def test_log_lines_are_typed_pseudonymised_and_bad_ones_quarantined(spark, tmp_path):
    lines = [
        '203.0.113.9 - - [20/Nov/2026:10:00:00 +0000] "GET /cart HTTP/1.1" 404 - "-" "curl/8"',
        '203.0.113.9 - - [20/Nov/2026:23:30:00 -0100] "GET / HTTP/1.1" 200 512 "https://a.example/" "curl/8"',
        "198.51.100.7 - - [20/Nov/2026:10:0",
        '198.51.100.7 - - [19/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"',
    ]
    raw = raw_frame(
        spark, tmp_path, "log", [("access.log", "\n".join(lines).encode(), datetime(2026, 11, 21, tzinfo=UTC))]
    )
    flagged = weblogs.flag_requests(raw, DAY, key=KEY)
    clean = weblogs.clean_requests(flagged).orderBy("record_number").collect()
    assert [(r.path, r.status, r.response_bytes, str(r.requested_at)) for r in clean] == [
        ("/cart", 404, 0, "2026-11-20 10:00:00")
    ]
    assert clean[0].client_key == hmac.new(KEY, b"203.0.113.9", hashlib.sha256).hexdigest()
    quarantined = weblogs.quarantined_requests(flagged, DAY).orderBy("record_number").collect()
    assert [r.reason for r in quarantined] == [
        "outside_partition_day",
        "not_combined_log_format",
        "outside_partition_day",
    ]
    assert not any("203.0.113.9" in r.payload or "198.51.100.7" in r.payload for r in quarantined)


def test_posts_keep_the_latest_version_and_tolerate_missing_and_extra_fields(spark, tmp_path):
    old = b'[{"id": "S-1", "platform": "X", "created_at": "2026-11-20T10:00:00Z", "likes": 1}]'
    new = (
        b'{"id": "S-1", "platform": "X", "created_at": "2026-11-20T10:00:00Z", "likes": 5, "hashtags": ["#Sale", "gift"]}\n'
        b'{"id": "S-2", "platform": "tiktok", "created_at": "2026-11-20T11:00:00+02:00", "geo": {"lat": 1}}\n'
        b'{"platform": "x", "created_at": "2026-11-20T10:00:00Z"}\n'
        b'{"id": "S-3", "text": "cut\n'
    )
    raw = raw_frame(
        spark,
        tmp_path,
        "json",
        [
            ("posts.json", old, datetime(2026, 11, 20, 12, tzinfo=UTC)),
            ("posts.json", new, datetime(2026, 11, 20, 13, tzinfo=UTC)),
        ],
    )
    flagged = social.flag_posts(raw, DAY, key=KEY)
    clean = social.clean_posts(flagged).orderBy("post_id").collect()
    assert [(r.post_id, r.platform, r.likes, r.hashtags, str(r.created_at)) for r in clean] == [
        ("S-1", "x", 5, "sale gift", "2026-11-20 10:00:00"),
        ("S-2", "tiktok", None, "", "2026-11-20 09:00:00"),
    ]
    reasons = sorted(r.reason for r in social.quarantined_posts(flagged, DAY).collect())
    assert reasons == ["missing_id", "unparseable_document"]


@pytest.mark.parametrize("header_ok", [True, False])
def test_an_order_export_with_a_wrong_header_is_quarantined_whole_without_emails(spark, tmp_path, header_ok):
    header = orders.HEADER if header_ok else orders.HEADER.replace("customer_email", "email")
    line = "O-1,1,K1,ann@example.com,P-1,Mug,kitchen,1,2.5,EUR,2026-11-20T10:00:00Z,paid,"
    raw = raw_frame(
        spark, tmp_path, "csv", [("o.csv", f"{header}\n{line}\n".encode(), datetime(2026, 11, 21, tzinfo=UTC))]
    )
    flagged = orders.flag_orders(raw, DAY, key=KEY)
    assert orders.clean_orders(flagged).count() == (1 if header_ok else 0)
    quarantined = orders.quarantined_orders(flagged, DAY).collect()
    assert [r.reason for r in quarantined] == ([] if header_ok else ["unexpected_header"])
    assert not any("ann@example.com" in r.payload for r in quarantined)
