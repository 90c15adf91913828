"""The e-commerce Spark transforms on real raw files: pseudonyms, reasons, dedupe, versions."""

import hashlib
import hmac
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from assets.dbt_project import DBT_PROJECT_DIR
from assets.ecommerce.records import raw_batch, split_file
from spark.schemas.clean_ecommerce import CLEAN_ORDERS, CLEAN_POSTS, CLEAN_REQUESTS, QUARANTINE
from spark.schemas.columns import Column
from spark.transforms.ecommerce import orders, social, weblogs
from spark.transforms.ecommerce.pseudonym import hmac_sha256

DAY = date(2026, 11, 20)
KEY = b"test-key-not-a-secret"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


def dtypes(contract: tuple[Column, ...]) -> list[tuple[str, str]]:
    """What `DataFrame.dtypes` says of a frame that keeps the contract: names, order, Spark types."""
    return [(c.name, c.type) for c in contract]


def raw_frame(spark, tmp_path, file_format: str, versions: list[tuple[str, bytes, datetime]]):
    """Raw rows of file versions (name, bytes, received_at), written and read as Parquet."""
    tmp_path.mkdir(parents=True, exist_ok=True)
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


# RFC 4231, the test cases whose data is text: 1, 2, 6 and 7 (6 and 7: a key longer than the block).
RFC_4231 = [
    (b"\x0b" * 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (
        b"\xaa" * 131,
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to"
        " be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def two_sha2_hmac(value, key: bytes):
    """The pseudonym as the platform computed it before Spark's `hmac` (RFC 2104 from two sha2
    calls): what the lake holds, which the native function must reproduce byte for byte."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_pad, outer_pad = bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), F.encode(value, "UTF-8")), 256))
    return F.when(value.isNotNull(), F.sha2(F.concat(F.lit(outer_pad), inner), 256))


def test_the_spark_hmac_gives_the_rfc_4231_vectors(spark):
    for key, data, expected in RFC_4231:
        assert hmac.new(key, data.encode(), hashlib.sha256).hexdigest() == expected  # the vectors as typed
        (row,) = spark.createDataFrame([(data,)], "v string").select(hmac_sha256(F.col("v"), key)).collect()
        assert row[0] == expected


def test_the_spark_hmac_is_todays_pseudonym_byte_for_byte(spark):
    values = ["ann@example.com", "", "é@ü.de", "x" * 200, "203.0.113.7", "2001:db8::1", None]
    frame = spark.createDataFrame([(v,) for v in values], "v string")
    # Short, exactly one block, one byte over (hashed first), long.
    for key in (KEY, b"b" * 64, b"c" * 65, b"k" * 100):
        rows = frame.select(hmac_sha256(F.col("v"), key).alias("new"), two_sha2_hmac(F.col("v"), key).alias("old"))
        got = [(r.new, r.old) for r in rows.collect()]
        expected = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest() if v is not None else None for v in values]
        assert got == list(zip(expected, expected, strict=True))


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="key is empty"):
        hmac_sha256(F.col("v"), b"")


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
    assert weblogs.clean_requests(flagged).dtypes == dtypes(CLEAN_REQUESTS)
    assert weblogs.quarantined_requests(flagged, DAY).dtypes == dtypes(QUARANTINE)
    clean = weblogs.clean_requests(flagged).orderBy("record_number").collect()
    assert [(r.path, r.status, r.response_bytes, str(r.requested_at)) for r in clean] == [
        ("/cart", 404, None, "2026-11-20 10:00:00")
    ]
    assert clean[0].client_key == hmac.new(KEY, b"203.0.113.9", hashlib.sha256).hexdigest()
    quarantined = weblogs.quarantined_requests(flagged, DAY).orderBy("record_number").collect()
    assert [r.reason for r in quarantined] == [
        "outside_partition_day",
        "not_combined_log_format",
        "outside_partition_day",
    ]
    assert not any("203.0.113.9" in r.payload or "198.51.100.7" in r.payload for r in quarantined)


REAL_SERVER_LINES = [
    # Apache escapes a quote in a field as \" and a backslash as \\.
    rb'203.0.113.9 - - [20/Nov/2026:10:00:00 +0000] "GET /search?q=\"mug\" HTTP/1.1" 200 512 "-" '
    rb'"Mozilla/5.0 (\"quoted\") x\\y"',
    # nginx writes \x22; its log_format appends $request_time and an upstream field.
    rb'203.0.113.9 - - [20/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "https://a.example/?s=\x22a\x22" '
    rb'"curl \x22x\x22" 0.004 "10.0.0.2:8080"',
    # No request line (the client sent none): still a request.
    b'198.51.100.7 - - [20/Nov/2026:10:00:02 +0000] "-" 400 0 "-" "-"',
    b'198.51.100.7 - - [20/Nov/2026:10:00:03 +0000] "-" 408 - "-" "-"',
    # An IPv6 client, no body, a line separator (U+2028) inside the user agent.
    '2001:db8::1 - - [20/Nov/2026:10:00:04 +0000] "GET /cart HTTP/2.0" 304 - "-" "ua\u2028x"'.encode(),
    # Bytes that are not UTF-8 (a Latin-1 user agent).
    b'203.0.113.9 - - [20/Nov/2026:10:00:05 +0000] "GET /p HTTP/1.1" 200 7 "-" "caf\xe9 \xff"',
    # Genuinely malformed: cut short, a TLS handshake on the plain port, an unescaped quote, status 000.
    b'203.0.113.9 - - [20/Nov/2026:10:00:06 +0000] "GET / HT',
    rb'203.0.113.9 - - [20/Nov/2026:10:00:07 +0000] "\x16\x03\x01\x00" 400 157 "-" "-"',
    b'203.0.113.9 - - [20/Nov/2026:10:00:08 +0000] "GET / HTTP/1.1" 200 1 "-" "bad "quote" ua"',
    b'203.0.113.9 - - [20/Nov/2026:10:00:09 +0000] "GET / HTTP/1.1" 000 0 "-" "x"',
]


def test_log_lines_as_real_servers_write_them(spark, tmp_path):
    data = b"\n".join(REAL_SERVER_LINES) + b"\n"
    raw = raw_frame(spark, tmp_path, "log", [("access.log", data, datetime(2026, 11, 21, tzinfo=UTC))])
    flagged = weblogs.flag_requests(raw, DAY, key=KEY)
    clean = weblogs.clean_requests(flagged).orderBy("record_number").collect()
    fields = [
        (r.record_number, r.method, r.path, r.protocol, r.status, r.response_bytes, r.referrer, r.user_agent)
        for r in clean
    ]
    assert fields == [
        (1, "GET", '/search?q="mug"', "HTTP/1.1", 200, 512, None, 'Mozilla/5.0 ("quoted") x\\y'),
        (2, "GET", "/", "HTTP/1.1", 200, 1, 'https://a.example/?s="a"', 'curl "x"'),
        (3, None, None, None, 400, 0, None, None),
        (4, None, None, None, 408, None, None, None),
        (5, "GET", "/cart", "HTTP/2.0", 304, None, None, "ua\u2028x"),
        (6, "GET", "/p", "HTTP/1.1", 200, 7, None, "caf\ufffd \ufffd"),
    ]
    assert [r.invalid_utf8 for r in clean] == [False] * 5 + [True]
    assert clean[4].client_key == hmac.new(KEY, b"2001:db8::1", hashlib.sha256).hexdigest()
    quarantined = weblogs.quarantined_requests(flagged, DAY).orderBy("record_number").collect()
    assert [(r.record_number, r.reason) for r in quarantined] == [
        (7, "not_combined_log_format"),
        (8, "invalid_request_line"),
        (9, "not_combined_log_format"),
        (10, "invalid_status"),
    ]


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
    assert social.clean_posts(flagged).dtypes == dtypes(CLEAN_POSTS)
    assert social.quarantined_posts(flagged, DAY).dtypes == dtypes(QUARANTINE)
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
    flagged = orders.flag_orders(raw, DAY, key=KEY, statuses=orders.read_status_map(spark, SEEDS_DIR))
    assert orders.clean_orders(flagged).count() == (1 if header_ok else 0)
    quarantined = orders.quarantined_orders(flagged, DAY).collect()
    assert [r.reason for r in quarantined] == ([] if header_ok else ["unexpected_header"])
    assert not any("ann@example.com" in r.payload for r in quarantined)


# Real-looking exports of the shop platforms, mapped to the contract's columns: the status
# column names the platform's vocabulary; the `;`-separated ones write amounts with a decimal comma.
def _export(status_column: str, rows: list[tuple[str, str, str, str]], sep: str = ",") -> bytes:
    """(order_id, unit_price, currency, status word) rows of one platform's export."""
    header = orders.HEADER.replace(",status,", f",{status_column},").replace(",", sep)
    lines = [
        sep.join(
            [
                oid,
                "1",
                "K1",
                "ann@example.com",
                "P-1",
                "Mug",
                "kitchen",
                "2",
                price,
                cur,
                "2026-11-20T10:00:00Z",
                word,
                "",
            ]
        )
        for oid, price, cur, word in rows
    ]
    return "\r\n".join([header, *lines, ""]).encode()


EXPORTS = {
    "woocommerce.csv": _export(
        "woocommerce_status",
        [
            ("W-1", "10.00", "EUR", "pending"),
            ("W-2", "10.00", "EUR", "processing"),
            ("W-3", "10.00", "EUR", "on-hold"),
            ("W-4", "10.00", "EUR", "Completed"),
            ("W-5", "10.00", "EUR", "cancelled"),
            ("W-6", "10.00", "EUR", "refunded"),
            ("W-7", "10.00", "EUR", "failed"),
            ("W-8", "10.00", "EUR", "checkout-draft"),  # in no mapping
        ],
    ),
    "shopify.csv": _export(
        "shopify_status",
        [
            ("S-1", "19.99", "usd", "paid"),
            ("S-2", "19.99", "usd", "pending"),
            ("S-3", "19.99", "usd", "authorized"),
            ("S-4", "19.99", "usd", "partially_refunded"),
            ("S-5", "19.99", "usd", "refunded"),
            ("S-6", "19.99", "usd", "voided"),
            ("S-7", "19.99", "usd", "fulfilled"),
            ("S-8", "19.99", "usd", "restocked"),
            ("S-9", "19.99", "usd", "unfulfilled"),  # says nothing about payment: no mapping
        ],
    ),
    "magento.csv": _export(
        "magento_status",
        [
            ("M-1", "12,50", "eur", "pending"),
            ("M-2", "12,50", "eur", "processing"),
            ("M-3", "12,50", "eur", "complete"),
            ("M-4", "12,50", "eur", "closed"),
            ("M-5", "12,50", "eur", "canceled"),
            ("M-6", "12,50", "eur", "holded"),
            ("M-7", "12.50", "eur", "complete"),  # a point in a decimal-comma export: refused
        ],
        sep=";",
    ),
    "prestashop.csv": _export(
        "prestashop_status",
        [
            ("P-1", "7", "Eur", "Awaiting bank wire payment"),
            ("P-2", "7,5", "Eur", "Payment accepted"),
            ("P-3", "7,5", "Eur", "Processing in progress"),
            ("P-4", "7,5", "Eur", "Shipped"),
            ("P-5", "7,5", "Eur", "Delivered"),
            ("P-6", "7,5", "Eur", "Canceled"),
            ("P-7", "7,5", "Eur", "Refunded"),
            ("P-8", "7,5", "Eur", "Payment error"),
        ],
        sep=";",
    ),
    "bigcommerce.csv": _export("bigcommerce_status", [("B-1", "1.00", "EUR", "shipped")]),  # no such vocabulary
    "canonical.csv": _export("status", [("C-1", "1.00", "eur", "delivered"), ("C-2", "1.00", "EUR", "completed")]),
    # Money is exact text to decimal(18,2): a trailing zero is fine, a third decimal is no cent
    # amount (refused, not rounded), and a line of 2 x the largest price does not fit.
    "cents.csv": _export(
        "status",
        [
            ("X-1", "12.340", "EUR", "paid"),
            ("X-2", "12.345", "EUR", "paid"),
            ("X-3", "9999999999999999.99", "EUR", "paid"),
            ("X-4", "NaN", "EUR", "paid"),
        ],
    ),
}


@pytest.fixture(scope="module")
def statuses(spark):
    return orders.read_status_map(spark, SEEDS_DIR)


def test_each_platforms_order_export_is_cleaned_to_the_canonical_statuses(spark, tmp_path, statuses):
    received = datetime(2026, 11, 21, tzinfo=UTC)
    raw = raw_frame(spark, tmp_path, "csv", [(name, data, received) for name, data in EXPORTS.items()])
    flagged = orders.flag_orders(raw, DAY, key=KEY, statuses=statuses)
    clean = orders.clean_orders(flagged).orderBy("order_id").collect()
    assert [(r.order_id, r.status, r.unit_price, r.currency, r.line_amount) for r in clean] == [
        ("C-1", "delivered", Decimal("1.00"), "EUR", Decimal("2.00")),
        ("M-1", "placed", Decimal("12.50"), "EUR", Decimal("25.00")),
        ("M-2", "paid", Decimal("12.50"), "EUR", Decimal("25.00")),
        ("M-3", "shipped", Decimal("12.50"), "EUR", Decimal("25.00")),
        ("M-4", "returned", Decimal("12.50"), "EUR", Decimal("25.00")),
        ("M-5", "cancelled", Decimal("12.50"), "EUR", Decimal("25.00")),
        ("M-6", "placed", Decimal("12.50"), "EUR", Decimal("25.00")),
        ("P-1", "placed", Decimal("7.00"), "EUR", Decimal("14.00")),
        ("P-2", "paid", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("P-3", "paid", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("P-4", "shipped", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("P-5", "delivered", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("P-6", "cancelled", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("P-7", "returned", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("P-8", "cancelled", Decimal("7.50"), "EUR", Decimal("15.00")),
        ("S-1", "paid", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-2", "placed", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-3", "placed", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-4", "paid", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-5", "returned", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-6", "cancelled", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-7", "shipped", Decimal("19.99"), "USD", Decimal("39.98")),
        ("S-8", "returned", Decimal("19.99"), "USD", Decimal("39.98")),
        ("W-1", "placed", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("W-2", "paid", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("W-3", "placed", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("W-4", "shipped", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("W-5", "cancelled", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("W-6", "returned", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("W-7", "cancelled", Decimal("10.00"), "EUR", Decimal("20.00")),
        ("X-1", "paid", Decimal("12.34"), "EUR", Decimal("24.68")),
    ]
    assert {str(r.unit_price) for r in clean} >= {"12.50", "7.00", "19.99"}  # the scale is kept
    quarantined = orders.quarantined_orders(flagged, DAY).collect()
    reasons = sorted((r.payload.split(",")[0].split(";")[0], r.reason) for r in quarantined)
    assert reasons == [
        ("B-1", "unexpected_header"),
        ("C-2", "unknown_status"),
        ("M-7", "invalid_unit_price"),
        ("S-9", "unknown_status"),
        ("W-8", "unknown_status"),
        ("X-2", "invalid_unit_price"),
        ("X-3", "amount_out_of_range"),
        ("X-4", "invalid_unit_price"),
    ]
    types = dict(orders.clean_orders(flagged).dtypes)
    assert (types["unit_price"], types["line_amount"]) == ("decimal(18,2)", "decimal(18,2)")
    assert orders.clean_orders(flagged).dtypes == dtypes(CLEAN_ORDERS)
    assert orders.quarantined_orders(flagged, DAY).dtypes == dtypes(QUARANTINE)


def test_an_operator_extends_the_status_map_with_a_row(spark, tmp_path):
    seeds = tmp_path / "seeds"
    (seeds / "ecommerce").mkdir(parents=True)
    text = (SEEDS_DIR / orders.STATUS_FILE).read_text() + "shopify,unfulfilled,paid\nbigcommerce,shipped,shipped\n"
    (seeds / orders.STATUS_FILE).write_text(text)
    extended = orders.read_status_map(spark, seeds)
    received = datetime(2026, 11, 21, tzinfo=UTC)
    exports = [(n, EXPORTS[n], received) for n in ("shopify.csv", "bigcommerce.csv")]
    flagged = orders.flag_orders(raw_frame(spark, tmp_path / "raw", "csv", exports), DAY, key=KEY, statuses=extended)
    got = {r.order_id: r.status for r in orders.clean_orders(flagged).collect()}
    assert (got["S-9"], got["B-1"], len(got)) == ("paid", "shipped", 10)
    (seeds / orders.STATUS_FILE).write_text(text + "shopify,paid,posted\n")
    with pytest.raises(ValueError, match="no `canonical` row"):
        orders.read_status_map(spark, seeds)
