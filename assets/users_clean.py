"""Spark-cleaned randomuser.me users: typed, one row per user id, credentials gone; written
as the day's partition of the clean zone and loaded into the warehouse's `clean` schema."""

import dagster as dg

from assets.clean_zone import clean_day, clean_results, clean_spec
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Spark, Warehouse

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
    # Imported by the step, not the code location: pyspark costs ~0.7 s to import.
    from spark.transforms.users import CLEAN_KEY, QUARANTINE_KEY, clean_users, flag_users, quarantined_users

    session = spark.get_session()
    per_day = {}
    for day in partition_days(context):
        per_day[day.isoformat()] = clean_day(
            session,
            lake,
            warehouse,
            day,
            RAW_USERS,
            flag_users,
            clean_users,
            quarantined_users,
            ("randomuser_users", "randomuser_users_quarantine"),
            "ingested_on",
            (CLEAN_KEY, QUARANTINE_KEY),
        )
        context.log.info(f"clean users {day}: {per_day[day.isoformat()]}")
    yield from clean_results(CLEAN_USERS, QUARANTINE, per_day)
