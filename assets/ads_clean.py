"""Spark-cleaned ad events: typed, UTC, one row per event_id; the rest quarantined with a
reason. Written as the pull day's partition of the clean zone and loaded into `clean`."""

import dagster as dg

from assets.ads_events import GROUP
from assets.clean_zone import clean_day, clean_results, clean_spec
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Spark, Warehouse
from spark.transforms.ecommerce.ads import (
    CLEAN_KEY,
    QUARANTINE_KEY,
    clean_ad_events,
    flag_ad_events,
    quarantined_ad_events,
)

CLEAN_ADS = ["clean", "ads_events"]
QUARANTINE = ["clean", "ads_events_quarantine"]
RAW_ADS = ["raw", "ads_events"]


@dg.multi_asset(
    specs=[
        clean_spec(
            CLEAN_ADS,
            [RAW_ADS],
            "Ad events of the pull day: typed (event_ts UTC, cost and revenue in EUR), one row per "
            "event_id; late events (event_date before the pull day) kept and flagged is_late.",
            GROUP,
        ),
        clean_spec(
            QUARANTINE,
            [RAW_ADS],
            "Landed ad events that failed validation, with the payload and the reason.",
            GROUP,
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def clean_ads_events(
    context: dg.AssetExecutionContext,
    spark: dg.ResourceParam[Spark],
    lake: dg.ResourceParam[Lake],
    warehouse: dg.ResourceParam[Warehouse],
):
    session = spark.get_session()
    per_day = {}
    for day in partition_days(context):
        per_day[day.isoformat()] = clean_day(
            session,
            lake,
            warehouse,
            day,
            RAW_ADS,
            flag_ad_events,
            clean_ad_events,
            quarantined_ad_events,
            ("ads_events", "ads_events_quarantine"),
            "ingested_on",
            (CLEAN_KEY, QUARANTINE_KEY),
        )
        context.log.info(f"clean ad events {day}: {per_day[day.isoformat()]}")
    yield from clean_results(CLEAN_ADS, QUARANTINE, per_day)
