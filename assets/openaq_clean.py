"""Spark-cleaned OpenAQ tables: written as the day's Parquet partition in the clean zone,
then loaded into the warehouse's `clean` schema where dbt reads them.

Both steps replace the day, so re-running a partition gives the same tables.
"""

from datetime import date

import dagster as dg
import pyarrow.parquet as pq

from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Spark, Warehouse
from spark.transforms.catalogue import clean_locations, clean_sensors, parse_locations
from spark.transforms.measurements import (
    clean_measurements,
    flag_measurements,
    quarantined_measurements,
)

CLEAN_MEASUREMENTS = dg.AssetKey(["clean", "openaq_measurements"])
QUARANTINE = dg.AssetKey(["clean", "openaq_measurements_quarantine"])
CLEAN_LOCATIONS = dg.AssetKey(["clean", "openaq_locations"])
CLEAN_SENSORS = dg.AssetKey(["clean", "openaq_sensors"])


def _spec(key, deps, description):
    return dg.AssetSpec(
        key, deps=deps, description=description, group_name="openaq", kinds={"spark", "parquet"}
    )


def parquet_rows(directory) -> int:
    """Row count from the Parquet footers: no data is read."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(directory.glob("*.parquet")))


def _publish(df, lake: Lake, warehouse: Warehouse, table: str, column: str, day: date) -> int:
    target = lake.partition_dir("clean", table, day)
    df.write.mode("overwrite").parquet(str(target))
    return warehouse.replace_partition("clean", table, column, day, target)


@dg.multi_asset(
    specs=[
        _spec(
            CLEAN_MEASUREMENTS,
            [["raw", "openaq_measurements"]],
            "Validated OpenAQ measurements: typed, UTC, one row per sensor x period end, units as given.",
        ),
        _spec(
            QUARANTINE,
            [["raw", "openaq_measurements"]],
            "Raw measurement rows that failed validation, as received, with the reason.",
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
    session = spark.get_session()
    per_day = {}
    for day in partition_days(context):
        raw_dir = lake.partition_dir("raw", "openaq_measurements", day)
        flagged = flag_measurements(session.read.parquet(str(raw_dir)), day).persist()
        clean_rows = _publish(
            clean_measurements(flagged), lake, warehouse, "openaq_measurements", "measured_on", day
        )
        quarantined = _publish(
            quarantined_measurements(flagged, day),
            lake, warehouse, "openaq_measurements_quarantine", "partition_day", day,
        )
        reasons = {
            r["reason"]: r["count"]
            for r in flagged.where("reason is not null").groupBy("reason").count().collect()
        }
        flagged.unpersist()
        raw_rows = parquet_rows(raw_dir)
        per_day[day.isoformat()] = {
            "raw_rows": raw_rows,
            "clean_rows": clean_rows,
            "quarantined_rows": quarantined,
            "duplicates_removed": raw_rows - clean_rows - quarantined,
            "quarantine_reasons": reasons,
        }
        context.log.info(f"clean OpenAQ {day}: {per_day[day.isoformat()]}")
    totals = {
        k: sum(d[k] for d in per_day.values())
        for k in ("raw_rows", "clean_rows", "quarantined_rows", "duplicates_removed")
    }
    yield dg.MaterializeResult(
        asset_key=CLEAN_MEASUREMENTS,
        metadata={
            "dagster/row_count": totals["clean_rows"],
            **totals,
            "per_day": per_day,
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={"dagster/row_count": totals["quarantined_rows"], "per_day": per_day},
    )


@dg.multi_asset(
    specs=[
        _spec(CLEAN_LOCATIONS, [["raw", "openaq_locations"]], "Daily snapshot of OpenAQ locations."),
        _spec(
            CLEAN_SENSORS,
            [["raw", "openaq_locations"]],
            "Daily snapshot of OpenAQ sensors with their location and parameter (id, name, units).",
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
    session = spark.get_session()
    counts = {"locations": 0, "sensors": 0, "rejected_documents": 0}
    for day in partition_days(context):
        raw_dir = lake.partition_dir("raw", "openaq_locations", day)
        parsed = parse_locations(session.read.parquet(str(raw_dir))).persist()
        rejected = parsed.where("reason is not null")
        for row in rejected.select("location_id", "reason").collect():
            context.log.warning(f"location document rejected on {day}: {row.asDict()}")
        counts["rejected_documents"] += rejected.count()
        counts["locations"] += _publish(
            clean_locations(parsed, day), lake, warehouse, "openaq_locations", "snapshot_on", day
        )
        counts["sensors"] += _publish(
            clean_sensors(parsed, day), lake, warehouse, "openaq_sensors", "snapshot_on", day
        )
        parsed.unpersist()
    yield dg.MaterializeResult(
        asset_key=CLEAN_LOCATIONS,
        metadata={"dagster/row_count": counts["locations"], **counts},
    )
    yield dg.MaterializeResult(
        asset_key=CLEAN_SENSORS, metadata={"dagster/row_count": counts["sensors"]}
    )
