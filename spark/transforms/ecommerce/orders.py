"""Clean order lines from the transactions CSV exports.

Input: the raw zone's records of the day's files (assets/ecommerce/records.py): one row per CSV
record with its text as received (`payload`), its fields as a JSON array (`fields`, parsed by
RFC 4180 in Python), the file's header and the file version. Every record of a file's latest
version ends in exactly one place: a clean order line, or the quarantine with a reason.
`customer_email` never passes this step: it becomes `customer_key` (HMAC-SHA256), and the
quarantine's payload carries the key in the email's place.
"""

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.transforms.ecommerce.pseudonym import email_key
from spark.transforms.ecommerce.versions import (
    blank_to_null,
    first_reason,
    latest_received,
    latest_versions,
    rejected_once,
)

HEADER = (
    "order_id,order_line,customer_id,customer_email,product_id,product_name,category,quantity,"
    "unit_price,currency,ordered_at,status,campaign_id"
)
FIELDS = HEADER.split(",")
STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
# ISO 8601 with a zone: Spark would read a zone-less text as UTC, which the contract forbids.
# Whatever an email field's position (a reordered or broken record), no address passes raw.
EMAIL = r"[^\s,;\"'<>]+@[^\s,;\"'<>]+"
ISO_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"

CLEAN_KEY = ("order_id", "order_line")
QUARANTINE_KEY = ("source_file", "payload")
CLEAN_COLUMNS = [
    "order_id",
    "order_line",
    "ordered_at",
    "ordered_on",
    "customer_key",
    "product_id",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "currency",
    "line_amount",
    "status",
    "campaign_id",
    "source_file",
    "file_sha256",
    "record_number",
    "received_at",
]
QUARANTINE_COLUMNS = ["source_file", "file_sha256", "record_number", "payload", "reason", "partition_day"]


def parse_orders(raw: DataFrame) -> DataFrame:
    fields = F.from_json("fields", "array<string>")
    parsed = raw.withColumn("_fields", fields)
    for position, name in enumerate(FIELDS):
        parsed = parsed.withColumn(f"_{name}", blank_to_null(F.get("_fields", position)))
    return (
        parsed.withColumn("order_id", F.col("_order_id"))
        .withColumn("order_line", F.expr("try_cast(_order_line as int)"))
        .withColumn("product_id", F.col("_product_id"))
        .withColumn("product_name", F.col("_product_name"))
        .withColumn("category", F.col("_category"))
        .withColumn("quantity", F.expr("try_cast(_quantity as int)"))
        .withColumn("unit_price", F.expr("try_cast(_unit_price as double)"))
        .withColumn("currency", F.upper(F.col("_currency")))
        .withColumn("status", F.lower(F.col("_status")))
        .withColumn("campaign_id", F.col("_campaign_id"))
        .withColumn("ordered_at", F.try_to_timestamp(F.col("_ordered_at")).cast("timestamp_ntz"))
        .withColumn("ordered_on", F.to_date("ordered_at"))
    )


def flag_orders(raw: DataFrame, day: date, key: bytes) -> DataFrame:
    """Typed rows of the latest file versions, `reason` set on each that must not pass, PII
    replaced: `customer_key` for the email, and the same key in the payload's text."""
    rows = parse_orders(latest_versions(raw))
    rules = [
        (F.col("header") != HEADER, "unexpected_header"),
        (F.col("_fields").isNull() | (F.size("_fields") != len(FIELDS)), "wrong_field_count"),
        (F.col("order_id").isNull(), "missing_order_id"),
        (F.col("order_line").isNull() | (F.col("order_line") < 1), "invalid_order_line"),
        (
            F.col("ordered_at").isNull() | ~F.coalesce(F.col("_ordered_at").rlike(ISO_WITH_ZONE), F.lit(False)),
            "invalid_ordered_at",
        ),
        (F.col("ordered_on") != F.lit(day), "outside_partition_day"),
        (F.col("product_id").isNull(), "missing_product_id"),
        (F.col("quantity").isNull(), "invalid_quantity"),
        (F.col("quantity") <= 0, "non_positive_quantity"),
        (F.col("unit_price").isNull() | F.isnan("unit_price") | (F.col("unit_price") < 0), "invalid_unit_price"),
        (F.col("currency").isNull() | ~F.col("currency").rlike("^[A-Z]{3}$"), "invalid_currency"),
        (F.col("status").isNull() | ~F.col("status").isin(*STATUSES), "unknown_status"),
    ]
    email = F.col("_customer_email")
    pseudonym = email_key(email, key)
    return (
        rows.withColumn("reason", first_reason(rules))
        .withColumn("customer_key", pseudonym)
        .withColumn(
            "payload", F.when(email.isNull(), F.col("payload")).otherwise(F.replace("payload", email, pseudonym))
        )
        .withColumn("payload", F.regexp_replace("payload", EMAIL, "<email removed>"))
        .withColumn("line_amount", F.col("quantity") * F.col("unit_price"))
        .drop("fields", "_fields", *(f"_{name}" for name in FIELDS))
    )


def clean_orders(flagged: DataFrame) -> DataFrame:
    """Valid order lines, one per (order_id, order_line): the latest received file wins."""
    return latest_received(flagged, CLEAN_KEY, CLEAN_COLUMNS)


def quarantined_orders(flagged: DataFrame, day: date) -> DataFrame:
    """Rejected records as received (email pseudonymised), one per file and text."""
    return rejected_once(flagged, day, QUARANTINE_KEY, QUARANTINE_COLUMNS)
