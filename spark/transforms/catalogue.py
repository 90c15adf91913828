"""Flatten daily snapshots of the OpenAQ location catalogue into locations and sensors.

A location document carries its sensors and each sensor its parameter, so one raw table
feeds the location, sensor and parameter dimensions.
"""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.schemas.openaq import CORRUPT_RECORD, LOCATION
from spark.transforms.days import Day
from spark.transforms.event_time import utc_ntz


def parse_locations(raw: DataFrame) -> DataFrame:
    """Raw location documents -> parsed `doc` struct and a `reason` for unusable ones."""
    doc = F.from_json("payload", LOCATION, {"columnNameOfCorruptRecord": CORRUPT_RECORD})
    parsed = raw.withColumn("doc", doc)
    return parsed.withColumn(
        "reason",
        F.when(
            F.col("doc").isNull() | F.col(f"doc.{CORRUPT_RECORD}").isNotNull(),
            F.lit("unparseable_payload"),
        ).when(F.col("doc.id").isNull(), F.lit("missing_location_id")),
    )


def clean_locations(parsed: DataFrame, day: Day) -> DataFrame:
    """One row per location for each snapshot day (`day`: a date, or the range's day column)."""
    return (
        parsed.where(F.col("reason").isNull())
        .select(
            F.col("doc.id").alias("location_id"),
            F.col("doc.name").alias("location_name"),
            F.col("doc.locality").alias("locality"),
            F.col("doc.timezone").alias("timezone"),
            F.col("doc.country.code").alias("country_code"),
            F.col("doc.country.name").alias("country_name"),
            F.col("doc.owner.name").alias("owner_name"),
            F.col("doc.provider.name").alias("provider_name"),
            F.col("doc.isMobile").alias("is_mobile"),
            F.col("doc.isMonitor").alias("is_monitor"),
            F.col("doc.coordinates.latitude").alias("latitude"),
            F.col("doc.coordinates.longitude").alias("longitude"),
            utc_ntz(F.col("doc.datetimeFirst.utc")).alias("first_seen_utc"),
            utc_ntz(F.col("doc.datetimeLast.utc")).alias("last_seen_utc"),
            F.lit(day).alias("snapshot_on"),
        )
        .dropDuplicates(["snapshot_on", "location_id"])
    )


def clean_sensors(parsed: DataFrame, day: Day) -> DataFrame:
    """One row per sensor for each snapshot day, with its location and parameter."""
    sensors = parsed.where(F.col("reason").isNull()).select(
        F.col("doc.id").alias("location_id"),
        F.explode_outer("doc.sensors").alias("sensor"),
        F.lit(day).alias("snapshot_on"),
    )
    return (
        sensors.where(F.col("sensor.id").isNotNull())
        .select(
            F.col("sensor.id").alias("sensor_id"),
            "location_id",
            F.col("sensor.name").alias("sensor_name"),
            F.col("sensor.parameter.id").alias("parameter_id"),
            F.col("sensor.parameter.name").alias("parameter_name"),
            F.col("sensor.parameter.units").alias("units"),
            F.col("sensor.parameter.displayName").alias("parameter_display_name"),
            "snapshot_on",
        )
        .dropDuplicates(["snapshot_on", "sensor_id"])
    )
