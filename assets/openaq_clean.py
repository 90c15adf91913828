"""Spark-cleaned OpenAQ tables: written as the day's Parquet partition in the clean zone,
then loaded into the warehouse's `clean` schema where dbt reads them.

Both steps replace the day, so re-running a partition gives the same tables.
"""

from functools import partial

import dagster as dg

from assets.clean_zone import clean_day, clean_results, clean_spec, publish
from assets.dbt_project import DBT_PROJECT_DIR
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Spark, Warehouse

# The plausibility rules are dbt seeds: the warehouse tests the marts against the same files.
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"

CLEAN_MEASUREMENTS = ["clean", "openaq_measurements"]
QUARANTINE = ["clean", "openaq_measurements_quarantine"]
CLEAN_LOCATIONS = ["clean", "openaq_locations"]
CLEAN_SENSORS = ["clean", "openaq_sensors"]
RAW_MEASUREMENTS = ["raw", "openaq_measurements"]
RAW_LOCATIONS = ["raw", "openaq_locations"]
# The dbt seeds holding the plausibility rules: the step reads their files (SEEDS_DIR), and
# the edge says a change of the rules re-cleans the measurements.
RULES = [["reference", "measurement_bounds"], ["reference", "measurement_sentinels"]]


@dg.multi_asset(
    specs=[
        clean_spec(
            CLEAN_MEASUREMENTS,
            [RAW_MEASUREMENTS, *RULES],
            "Validated OpenAQ measurements: typed, UTC, one row per sensor x period end, units as given.",
            "openaq",
        ),
        clean_spec(
            QUARANTINE,
            [RAW_MEASUREMENTS, *RULES],
            "Landed measurement messages that failed validation, as received, with the reason.",
            "openaq",
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def clean_openaq_measurements(
    context: dg.AssetExecutionContext,
    spark: dg.ResourceParam[Spark],
    lake: dg.ResourceParam[Lake],
    warehouse: dg.ResourceParam[Warehouse],
):
    # Imported by the step, not the code location: pyspark costs ~0.7 s to import.
    from spark.transforms.measurements import (
        CLEAN_KEY,
        QUARANTINE_KEY,
        clean_measurements,
        flag_measurements,
        quarantined_measurements,
    )
    from spark.transforms.plausibility import read_plausibility

    session = spark.get_session()
    flag = partial(flag_measurements, rules=read_plausibility(session, SEEDS_DIR))
    per_day = {}
    for day in partition_days(context):
        per_day[day.isoformat()] = clean_day(
            session,
            lake,
            warehouse,
            day,
            RAW_MEASUREMENTS,
            flag,
            clean_measurements,
            quarantined_measurements,
            ("openaq_measurements", "openaq_measurements_quarantine"),
            "measured_on",
            (CLEAN_KEY, QUARANTINE_KEY),
        )
        context.log.info(f"clean OpenAQ {day}: {per_day[day.isoformat()]}")
    yield from clean_results(CLEAN_MEASUREMENTS, QUARANTINE, per_day)


@dg.multi_asset(
    specs=[
        clean_spec(CLEAN_LOCATIONS, [RAW_LOCATIONS], "Daily snapshot of OpenAQ locations.", "openaq"),
        clean_spec(
            CLEAN_SENSORS,
            [RAW_LOCATIONS],
            "Daily snapshot of OpenAQ sensors with their location and parameter (id, name, units).",
            "openaq",
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def clean_openaq_catalogue(
    context: dg.AssetExecutionContext,
    spark: dg.ResourceParam[Spark],
    lake: dg.ResourceParam[Lake],
    warehouse: dg.ResourceParam[Warehouse],
):
    from spark.transforms.catalogue import clean_locations, clean_sensors, parse_locations

    session = spark.get_session()
    counts = {"locations": 0, "sensors": 0, "rejected_documents": 0}
    for day in partition_days(context):
        raw_dir = lake.partition_dir(*RAW_LOCATIONS, day)
        parsed = parse_locations(session.read.parquet(str(raw_dir))).persist()
        rejected = parsed.where("reason is not null")
        for row in rejected.select("location_id", "reason").collect():
            context.log.warning(f"location document rejected on {day}: {row.asDict()}")
        counts["rejected_documents"] += rejected.count()
        counts["locations"] += publish(
            clean_locations(parsed, day), lake, warehouse, "openaq_locations", "snapshot_on", day
        )
        counts["sensors"] += publish(clean_sensors(parsed, day), lake, warehouse, "openaq_sensors", "snapshot_on", day)
        parsed.unpersist()
    yield dg.MaterializeResult(asset_key=CLEAN_LOCATIONS, metadata={"dagster/row_count": counts["locations"], **counts})
    yield dg.MaterializeResult(asset_key=CLEAN_SENSORS, metadata={"dagster/row_count": counts["sensors"]})
