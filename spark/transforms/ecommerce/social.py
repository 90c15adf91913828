"""Clean social posts: one row per post id, typed, UTC; optional fields may be missing and
extra fields are ignored (they stay in the raw payload).

Hashtags and mentions are kept as lower-case text separated by single spaces (no array
columns: the warehouse loader and both dbt targets read plain text, and `string_to_array`
splits it in DuckDB and PostgreSQL alike).
"""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from spark.schemas.clean_ecommerce import CLEAN_POSTS, QUARANTINE
from spark.schemas.columns import names
from spark.transforms.days import Day
from spark.transforms.ecommerce.versions import (
    blank_to_null,
    first_reason,
    latest_received,
    latest_versions,
    rejected_once,
)
from spark.transforms.event_time import utc_ntz

POST = StructType(
    [
        StructField("id", StringType()),
        StructField("platform", StringType()),
        StructField("author", StringType()),
        StructField("created_at", StringType()),
        StructField("text", StringType()),
        StructField("lang", StringType()),
        StructField("likes", LongType()),
        StructField("shares", LongType()),
        StructField("mentions", ArrayType(StringType())),
        StructField("hashtags", ArrayType(StringType())),
        StructField("_corrupt", StringType()),
    ]
)
ISO_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"

CLEAN_KEY = ("post_id",)
QUARANTINE_KEY = ("source_file", "payload")
CLEAN_COLUMNS = list(names(CLEAN_POSTS))
QUARANTINE_COLUMNS = list(names(QUARANTINE))


def _tags(column: str, prefix: str) -> F.Column:
    cleaned = F.transform(
        F.coalesce(F.col(column), F.array()), lambda t: F.lower(F.regexp_replace(F.trim(t), f"^{prefix}", ""))
    )
    return F.array_join(F.array_distinct(F.filter(cleaned, lambda t: t != "")), " ")


def flag_posts(raw: DataFrame, day: Day, key: bytes) -> DataFrame:  # noqa: ARG001 - no PII to key
    doc = F.from_json("payload", POST, {"columnNameOfCorruptRecord": "_corrupt", "mode": "PERMISSIVE"})
    rows = (
        latest_versions(raw, day)
        .withColumn("doc", doc)
        .withColumn("post_id", blank_to_null(F.col("doc.id")))
        .withColumn("platform", F.lower(blank_to_null(F.col("doc.platform"))))
        .withColumn("author", F.col("doc.author"))
        .withColumn("created_at", utc_ntz(F.col("doc.created_at")))
        .withColumn("created_on", F.to_date("created_at"))
        .withColumn("text", F.col("doc.text"))
        .withColumn("lang", F.col("doc.lang"))
        .withColumn("likes", F.col("doc.likes"))
        .withColumn("shares", F.col("doc.shares"))
        .withColumn("mentions", _tags("doc.mentions", "@"))
        .withColumn("hashtags", _tags("doc.hashtags", "#"))
    )
    rules = [
        (F.col("doc").isNull() | F.col("doc._corrupt").isNotNull(), "unparseable_document"),
        (F.col("post_id").isNull(), "missing_id"),
        (F.col("platform").isNull(), "missing_platform"),
        (
            F.col("created_at").isNull() | ~F.coalesce(F.col("doc.created_at").rlike(ISO_WITH_ZONE), F.lit(False)),
            "invalid_created_at",
        ),
        (F.col("created_on") != F.lit(day), "outside_partition_day"),
        ((F.col("likes") < 0) | (F.col("shares") < 0), "negative_engagement"),
    ]
    return rows.withColumn("reason", first_reason(rules)).drop("doc", "fields")


def clean_posts(flagged: DataFrame) -> DataFrame:
    """One row per post id: the latest received file wins a post exported twice."""
    return latest_received(flagged, CLEAN_KEY, CLEAN_COLUMNS)


def quarantined_posts(flagged: DataFrame, day: Day) -> DataFrame:
    return rejected_once(flagged, day, QUARANTINE_KEY, QUARANTINE_COLUMNS)
