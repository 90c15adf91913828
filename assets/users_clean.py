"""Spark-cleaned randomuser.me users: typed, one row per user id, credentials gone; written
as the day's partition of the clean zone and loaded into the warehouse's `clean` schema."""

import dagster as dg

from assets.clean_zone import clean_spec, parquet_rows, publish, reason_counts
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Spark, Warehouse
from spark.transforms.users import clean_users, flag_users, quarantined_users

CLEAN_USERS = ["clean", "randomuser_users"]
QUARANTINE = ["clean", "randomuser_users_quarantine"]
RAW_USERS = ["raw", "randomuser_users"]


@dg.multi_asset(
    specs=[
        clean_spec(
            CLEAN_USERS,
            [RAW_USERS],
            "randomuser.me users of the day: typed (dob, registered as UTC timestamps; postcode as "
            "text), one row per login.uuid; no password, salt or hash.",
            "users",
        ),
        clean_spec(
            QUARANTINE,
            [RAW_USERS],
            "Landed user messages that failed validation, with the reason (credentials redacted).",
            "users",
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def clean_randomuser_users(
    context: dg.AssetExecutionContext,
    spark: dg.ResourceParam[Spark],
    lake: dg.ResourceParam[Lake],
    warehouse: dg.ResourceParam[Warehouse],
):
    session = spark.get_session()
    per_day = {}
    for day in partition_days(context):
        raw_dir = lake.partition_dir(*RAW_USERS, day)
        flagged = flag_users(session.read.parquet(str(raw_dir)), day).persist()
        clean_rows = publish(clean_users(flagged), lake, warehouse, "randomuser_users", "ingested_on", day)
        quarantined = publish(
            quarantined_users(flagged, day),
            lake, warehouse, "randomuser_users_quarantine", "partition_day", day,
        )
        per_day[day.isoformat()] = {
            "raw_rows": parquet_rows(raw_dir),
            "clean_rows": clean_rows,
            "quarantined_rows": quarantined,
            "duplicates_removed": parquet_rows(raw_dir) - clean_rows - quarantined,
            "quarantine_reasons": reason_counts(flagged),
        }
        flagged.unpersist()
        context.log.info(f"clean users {day}: {per_day[day.isoformat()]}")
    totals = {
        k: sum(d[k] for d in per_day.values())
        for k in ("raw_rows", "clean_rows", "quarantined_rows", "duplicates_removed")
    }
    yield dg.MaterializeResult(
        asset_key=CLEAN_USERS,
        metadata={"dagster/row_count": totals["clean_rows"], **totals, "per_day": per_day},
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE, metadata={"dagster/row_count": totals["quarantined_rows"]}
    )
