"""Clean ad events: typed, UTC, one row per event_id; every other row quarantined with a reason.

`flag_ad_events` decides; the two selectors only split its output, so every raw row ends in
the clean table, the quarantine, or is counted as a duplicate. A campaign id the catalogue
does not know is not a reason here: the catalogue is dbt's (reference.campaigns), which flags
such events; the events themselves are sound.

Every leaf is read as text (see spark/schemas/randomuser.py for why) and cast with try_
functions, so one odd value quarantines its row instead of failing the run.

`cost` and `revenue` are `decimal(18,6)` (MICROS): an impression bought per mille costs a
fraction of a cent (0.0035 EUR), so ad money keeps six decimals, the micro-units ad servers
report in. A value that needs a seventh decimal, or does not fit, is `invalid_cost` /
`invalid_revenue`, never rounded: the JSON number's text is read exactly, not through a float.
"""

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark.schemas.clean_ads import CLEAN_ADS
from spark.schemas.columns import names
from spark.transforms.days import Day, with_day
from spark.transforms.dedupe import KAFKA_ORDER, keep_one
from spark.transforms.event_time import utc_ntz

CORRUPT_RECORD = "_corrupt_record"
AD_EVENT = T.StructType(
    [
        *(T.StructField(name, T.StringType()) for name in ("event_id", "campaign_id", "event_type", "ts")),
        *(T.StructField(name, T.StringType()) for name in ("cost", "revenue", "order_id")),
        T.StructField(CORRUPT_RECORD, T.StringType()),
    ]
)
EVENT_TYPES = ("impression", "click", "conversion")
# Ad money: EUR with six decimals (micro-euros). Documented in the README (marts' money columns).
MICROS = T.DecimalType(18, 6)
_EXACT = T.DecimalType(38, 18)

CLEAN_COLUMNS = list(names(CLEAN_ADS))
QUARANTINE_COLUMNS = [
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "payload",
    "reason",
    "ingested_at",
    "partition_day",
]
# One valid row per event id; one quarantined row per payload (a re-sent bad event is one).
CLEAN_KEY = ("event_id",)
QUARANTINE_KEY = ("payload",)


def _blank(column: str) -> Column:
    return F.col(column).isNull() | (F.trim(column) == "")


def _micros(text: Column) -> Column:
    """decimal(18,6), or null when the text is no number or not exactly one in micros."""
    exact = text.try_cast(_EXACT)
    micros = exact.try_cast(MICROS)
    return F.when(micros == exact, micros)


def parse_ad_events(raw: DataFrame) -> DataFrame:
    """Raw rows (payload + Kafka coordinates) -> typed columns, timestamps as UTC wall clock."""
    doc = F.from_json("payload", AD_EVENT, {"columnNameOfCorruptRecord": CORRUPT_RECORD})
    return (
        raw.withColumn("doc", doc)
        .withColumns({name: F.col(f"doc.{name}") for name in ("event_id", "campaign_id", "event_type", "order_id")})
        .withColumns(
            {
                "event_type": F.lower(F.trim("event_type")),
                "event_ts": utc_ntz(F.col("doc.ts")),
                "cost": _micros(F.col("doc.cost")),
                "revenue": _micros(F.col("doc.revenue")),
                "ingested_at": F.col("ingested_at").cast("timestamp_ntz"),
            }
        )
        .withColumn("event_date", F.to_date("event_ts"))
    )


def _reject_reason(day: Day) -> Column:
    """The first rule a row breaks, or null for a valid row."""
    doc = F.col("doc")
    rules = [
        (F.col("payload").isNull() | doc.isNull() | doc[CORRUPT_RECORD].isNotNull(), "unparseable_payload"),
        (_blank("event_id"), "missing_event_id"),
        (_blank("campaign_id"), "missing_campaign_id"),
        (~F.coalesce(F.col("event_type").isin(*EVENT_TYPES), F.lit(False)), "unknown_event_type"),
        (F.col("event_ts").isNull(), "unparseable_ts"),
        # Late events are kept (is_late); one from after its pull day cannot have happened yet.
        (F.col("event_date") > F.lit(day), "ts_after_partition_day"),
        (F.col("cost").isNull(), "invalid_cost"),
        (F.col("cost") < 0, "negative_cost"),
        (F.col("revenue").isNull() | (F.col("revenue") < 0), "invalid_revenue"),
        ((F.col("event_type") == "conversion") & _blank("order_id"), "conversion_without_order"),
    ]
    reason = F.lit(None).cast("string")
    for condition, label in reversed(rules):
        reason = F.when(condition, F.lit(label)).otherwise(reason)
    return reason


def flag_ad_events(raw: DataFrame, day: Day) -> DataFrame:
    """Typed events of one partition (pull) day with `reason` set on every row that must not pass."""
    return (
        parse_ad_events(with_day(raw, day))
        .withColumn("ingested_on", F.lit(day))
        .withColumn("is_late", F.col("event_date") < F.lit(day))
        .withColumn("reason", _reject_reason(day))
    )


def clean_ad_events(flagged: DataFrame) -> DataFrame:
    """Valid events, one per event_id: the first delivery wins a re-sent event."""
    valid = flagged.where(F.col("reason").isNull())
    return keep_one(valid, CLEAN_KEY, KAFKA_ORDER, keep="first").select(*CLEAN_COLUMNS)


def quarantined_ad_events(flagged: DataFrame, day: Day) -> DataFrame:
    """Rejected rows as received, with the reason and Kafka coordinates, once per payload (its
    first delivery)."""
    rejected = flagged.where(F.col("reason").isNotNull()).withColumn("partition_day", F.lit(day))
    return keep_one(rejected, QUARANTINE_KEY, KAFKA_ORDER, keep="first").select(*QUARANTINE_COLUMNS)
