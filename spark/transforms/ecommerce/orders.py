"""Clean order lines from the transactions CSV exports.

Input: the raw zone's records of the day's files (assets/ecommerce/records.py): one row per CSV
record with its text as received (`payload`), its fields as a JSON array (`fields`, parsed by
RFC 4180 in Python), the file's header and the file version. Every record of a file's latest
version ends in exactly one place: a clean order line, or the quarantine with a reason.
`customer_email` never passes this step: it becomes `customer_key` (HMAC-SHA256), and the
quarantine's payload carries the key in the email's place.

Status words: `dbt/seeds/ecommerce/order_statuses.csv` maps each platform's words to the
canonical statuses (its `canonical` rows). The header names the vocabulary of the file's
status column: `status` (canonical) or `<platform>_status` (`woocommerce_status`, ...).
Decimal comma: a file whose header is separated by `;` (a European-locale export) writes its
amounts with a decimal comma (`12,50`); there, a `.` in an amount is refused, never guessed.

Money is fixed-point, never a float: `unit_price` and `line_amount` are `decimal(18,2)`
(AMOUNT), the cents of the currencies the shop sells in. An amount is read as exact text; one
that needs a third decimal (`12.345`) or does not fit is `invalid_unit_price`, never rounded,
and a line whose `quantity * unit_price` does not fit decimal(18,2) is `amount_out_of_range`.
"""

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark.schemas.clean_ecommerce import CLEAN_ORDERS, QUARANTINE
from spark.schemas.columns import names
from spark.transforms.days import Day
from spark.transforms.ecommerce.pseudonym import email_key
from spark.transforms.ecommerce.versions import (
    blank_to_null,
    first_reason,
    latest_received,
    latest_versions,
    rejected_once,
)
from spark.transforms.event_time import utc_ntz

HEADER = (
    "order_id,order_line,customer_id,customer_email,product_id,product_name,category,quantity,"
    "unit_price,currency,ordered_at,status,campaign_id"
)
FIELDS = HEADER.split(",")
STATUS_FILE = Path("ecommerce") / "order_statuses.csv"
STATUS_SCHEMA = "platform string, source_status string, status string"
CANONICAL = "canonical"
# The status column's name says its vocabulary: `status`, or `<platform>_status`.
STATUS_COLUMN = r",ordered_at,(?:([a-z0-9_]+)_)?status,campaign_id$"
DECIMAL_COMMA_AMOUNT = r"^\d+(,\d+)?$"
# Shop amounts in the currency's cents; documented in the README (marts' money columns).
AMOUNT = T.DecimalType(18, 2)
# Wide enough to hold any amount text a file plausibly carries, so "needs more scale" is seen.
_EXACT = T.DecimalType(38, 18)
# ISO 8601 with a zone: Spark would read a zone-less text as UTC, which the contract forbids.
# Whatever an email field's position (a reordered or broken record), no address passes raw.
EMAIL = r"[^\s,;\"'<>]+@[^\s,;\"'<>]+"
ISO_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"

CLEAN_KEY = ("order_id", "order_line")
QUARANTINE_KEY = ("source_file", "payload")
CLEAN_COLUMNS = list(names(CLEAN_ORDERS))
QUARANTINE_COLUMNS = list(names(QUARANTINE))


@dataclass(frozen=True)
class StatusMap:
    words: DataFrame  # platform, source_status (lower case), status (canonical)
    platforms: tuple[str, ...]


def read_status_map(session: SparkSession, seeds_dir: Path | str) -> StatusMap:
    """The status seed; a row without a value, a word mapped twice or a target that is no
    canonical status fails the step: a broken map would quarantine (or pass) orders silently."""
    path = Path(seeds_dir) / STATUS_FILE
    rows = (
        session.read.option("header", True)
        .option("encoding", "UTF-8")
        .option("mode", "FAILFAST")
        .schema(STATUS_SCHEMA)
        .csv(str(path))
        .collect()
    )
    if any(None in (r.platform, r.source_status, r.status) for r in rows):
        raise ValueError(f"{path}: a row without platform, source_status or status")
    words = [(r.platform.strip().lower(), r.source_status.strip().lower(), r.status.strip()) for r in rows]
    canonical = {status for platform, _, status in words if platform == CANONICAL}
    if not canonical or {status for *_, status in words} - canonical:
        raise ValueError(
            f"{path}: a status that is no `{CANONICAL}` row's: {sorted({w[2] for w in words} - canonical)}"
        )
    if len({w[:2] for w in words}) != len(words):
        raise ValueError(f"{path}: a platform's word mapped twice")
    # Collected and rebuilt: the map is fixed for the step and broadcast, not re-read per action.
    return StatusMap(session.createDataFrame(words, STATUS_SCHEMA), tuple(sorted({w[0] for w in words})))


def _amount(text: F.Column, decimal_comma: F.Column) -> F.Column:
    """The amount as decimal(18,2), or null when the text is no number or is not exactly one
    in cents: a cast to the target scale alone would round 12.345 to 12.35 silently."""
    comma = F.when(text.rlike(DECIMAL_COMMA_AMOUNT), F.replace(text, F.lit(","), F.lit(".")))
    exact = F.when(decimal_comma, comma).otherwise(text).try_cast(_EXACT)
    amount = exact.try_cast(AMOUNT)
    return F.when(amount == exact, amount)


def parse_orders(raw: DataFrame) -> DataFrame:
    fields = F.from_json("fields", "array<string>")
    header = F.translate("header", ";", ",")
    parsed = (
        raw.withColumn("_fields", fields)
        .withColumn("_decimal_comma", F.col("header").contains(";"))
        .withColumn("_vocabulary", F.regexp_extract(header, STATUS_COLUMN, 1))
        .withColumn("_platform", F.when(F.col("_vocabulary") == "", F.lit(CANONICAL)).otherwise(F.col("_vocabulary")))
        .withColumn("_header", F.regexp_replace(header, STATUS_COLUMN, ",ordered_at,status,campaign_id"))
    )
    for position, name in enumerate(FIELDS):
        parsed = parsed.withColumn(f"_{name}", blank_to_null(F.get("_fields", position)))
    return (
        parsed.withColumn("order_id", F.col("_order_id"))
        .withColumn("order_line", F.expr("try_cast(_order_line as int)"))
        .withColumn("product_id", F.col("_product_id"))
        .withColumn("product_name", F.col("_product_name"))
        .withColumn("category", F.col("_category"))
        .withColumn("quantity", F.expr("try_cast(_quantity as int)"))
        .withColumn("unit_price", _amount(F.col("_unit_price"), F.col("_decimal_comma")))
        .withColumn("currency", F.upper(F.col("_currency")))
        .withColumn("_source", F.lower(F.col("_status")))
        .withColumn("campaign_id", F.col("_campaign_id"))
        .withColumn("ordered_at", utc_ntz(F.col("_ordered_at")))
        .withColumn("ordered_on", F.to_date("ordered_at"))
    )


def flag_orders(raw: DataFrame, day: Day, key: bytes, statuses: StatusMap) -> DataFrame:
    """Typed rows of the latest file versions, `reason` set on each that must not pass, PII
    replaced: `customer_key` for the email, and the same key in the payload's text; `status`
    is the canonical status the file's vocabulary maps its word to."""
    words = statuses.words.withColumnRenamed("platform", "_platform").withColumnRenamed("source_status", "_source")
    rows = (
        parse_orders(latest_versions(raw, day))
        .join(F.broadcast(words), ["_platform", "_source"], "left")
        # int x decimal(18,2) is exact in decimal(29,2); try_cast nulls a line that does not fit.
        .withColumn("line_amount", (F.col("quantity") * F.col("unit_price")).try_cast(AMOUNT))
    )
    rules = [
        (
            ~F.coalesce(F.col("_header") == HEADER, F.lit(False)) | ~F.col("_platform").isin(*statuses.platforms),
            "unexpected_header",
        ),
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
        (F.col("unit_price").isNull() | (F.col("unit_price") < 0), "invalid_unit_price"),
        (F.col("line_amount").isNull(), "amount_out_of_range"),
        (F.col("currency").isNull() | ~F.col("currency").rlike("^[A-Z]{3}$"), "invalid_currency"),
        (F.col("status").isNull(), "unknown_status"),
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
        .drop("fields", "_fields", "_decimal_comma", "_vocabulary", "_platform", "_header", "_source")
        .drop(*(f"_{name}" for name in FIELDS))
    )


def clean_orders(flagged: DataFrame) -> DataFrame:
    """Valid order lines, one per (order_id, order_line): the latest received file wins."""
    return latest_received(flagged, CLEAN_KEY, CLEAN_COLUMNS)


def quarantined_orders(flagged: DataFrame, day: Day) -> DataFrame:
    """Rejected records as received (email pseudonymised), one per file and text."""
    return rejected_once(flagged, day, QUARANTINE_KEY, QUARANTINE_COLUMNS)
