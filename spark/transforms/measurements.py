"""Clean OpenAQ measurements: typed, validated, deduplicated.

Input: the raw zone's landed Kafka messages (`payload` is the message value as received,
with its topic/partition/offset).

Every raw row ends in exactly one of two places: the clean table or the quarantine table
with a reason. `flag_measurements` decides; the two selectors below only split its output,
so the counts always add up to the raw row count.
"""

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.schemas.clean_measurements import CLEAN_MEASUREMENTS
from spark.schemas.columns import names
from spark.schemas.openaq import CORRUPT_RECORD, MEASUREMENT_MESSAGE
from spark.transforms.days import Day, with_day
from spark.transforms.dedupe import KAFKA_ORDER, keep_one
from spark.transforms.event_time import utc_ntz
from spark.transforms.plausibility import Plausibility, plausibility_rules, with_bounds

CLEAN_COLUMNS = list(names(CLEAN_MEASUREMENTS))

# What makes two rows the same: the clean table keeps one valid row per CLEAN_KEY, the
# quarantine one rejected row per QUARANTINE_KEY; the loss accounting counts both from the data.
CLEAN_KEY = ("sensor_id", "period_end_utc")
QUARANTINE_KEY = ("sensor_id", "_measurement")

QUARANTINE_COLUMNS = [
    "location_id",
    "sensor_id",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "payload",
    "reason",
    "ingested_at",
    "partition_day",
]


def parse_measurements(raw: DataFrame) -> DataFrame:
    """Landed messages (ids carried from the request + the measurement as received) -> typed columns."""
    message = F.from_json("payload", MEASUREMENT_MESSAGE, {"columnNameOfCorruptRecord": CORRUPT_RECORD})
    return (
        raw.withColumn("message", message)
        .withColumn("doc", F.col("message.measurement"))
        .withColumn("location_id", F.col("message.location_id"))
        .withColumn("sensor_id", F.col("message.sensor_id"))
        .withColumn("value_text", F.col("doc.value"))
        .withColumn("value", F.expr("try_cast(value_text AS DOUBLE)"))
        .withColumn("parameter_id", F.col("doc.parameter.id"))
        .withColumn("parameter_name", F.col("doc.parameter.name"))
        .withColumn("units", F.col("doc.parameter.units"))
        .withColumn("period_start_utc", utc_ntz(F.col("doc.period.datetimeFrom.utc")))
        .withColumn("period_end_utc", utc_ntz(F.col("doc.period.datetimeTo.utc")))
        .withColumn("measured_on", F.to_date("period_start_utc"))
        .withColumn("has_flags", F.coalesce(F.col("doc.flagInfo.hasFlags"), F.lit(False)))
        .withColumn("coverage_percent", F.col("doc.coverage.percentCoverage"))
        .withColumn("latitude", F.col("doc.coordinates.latitude"))
        .withColumn("longitude", F.col("doc.coordinates.longitude"))
        .withColumn("ingested_at", utc_ntz(F.col("message.fetched_at")))
    )


def _reject_reason(day: Day, rules: Plausibility) -> Column:
    """The first rule a row breaks, or null for a valid row."""
    message = F.col("message")
    rules = [
        (
            F.col("payload").isNull()
            | message.isNull()
            | message[CORRUPT_RECORD].isNotNull()
            | F.col("doc").isNull()
            | F.col("sensor_id").isNull(),
            F.lit("unparseable_payload"),
        ),
        (F.col("value_text").isNull(), F.lit("missing_value")),
        (F.col("value").isNull() | F.isnan("value"), F.lit("non_numeric_value")),
        (
            F.col("parameter_id").isNull() | F.col("units").isNull(),
            F.lit("missing_parameter"),
        ),
        (
            F.col("period_start_utc").isNull()
            | F.col("period_end_utc").isNull()
            | (F.col("period_end_utc") <= F.col("period_start_utc")),
            F.lit("invalid_period"),
        ),
        (F.col("measured_on") != F.lit(day), F.lit("outside_partition_day")),
        *plausibility_rules(rules),
    ]
    reason = F.lit(None).cast("string")
    for condition, label in reversed(rules):
        reason = F.when(condition, label).otherwise(reason)
    return reason


def flag_measurements(raw: DataFrame, day: Day, rules: Plausibility) -> DataFrame:
    """Typed rows of one partition day with `reason` set on every row that must not pass;
    `rules` are the physical bounds and sentinels (spark.transforms.plausibility).

    The parsed document is dropped here: callers cache this frame, and the nested copy of
    every payload doubled its size (a million-row day ran the JVM out of heap). So is the
    payload of a valid row, which only the quarantine carries: caching a million payloads cost
    more than parsing them. Rejected rows keep the measurement's JSON as the key that folds a
    re-pulled copy (see quarantine).
    """
    rejected = F.col("reason").isNotNull()
    return (
        with_bounds(parse_measurements(with_day(raw, day)), rules)
        .withColumn("reason", _reject_reason(day, rules))
        .withColumn("_measurement", F.when(rejected, F.coalesce(F.to_json("doc"), F.col("payload"))))
        .withColumn("payload", F.when(rejected, F.col("payload")))
        .drop("message", "doc", "_min_value", "_max_value")
    )


def clean_measurements(flagged: DataFrame) -> DataFrame:
    """Valid rows, one per sensor x period end; the latest fetch wins a duplicate."""
    valid = flagged.where(F.col("reason").isNull())
    return keep_one(valid, CLEAN_KEY, KAFKA_ORDER, keep="last").select(*CLEAN_COLUMNS)


def quarantined_measurements(flagged: DataFrame, day: Day) -> DataFrame:
    """Rejected rows exactly as received, with the reason they were rejected.

    A measurement pulled twice (a re-run of the day) is quarantined once, as first delivered:
    its Kafka coordinates and fetch time differ, the measurement as the API sent it does not.
    """
    rejected = flagged.where(F.col("reason").isNotNull()).withColumn("partition_day", F.lit(day))
    return keep_one(rejected, QUARANTINE_KEY, KAFKA_ORDER, keep="first").select(*QUARANTINE_COLUMNS)
