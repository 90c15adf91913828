"""Spark-cleaned ad events: typed, UTC, one row per event_id; the rest quarantined with a
reason. Each pull day replaced in the clean zone and `clean` by the lake IO manager."""

from assets.clean_zone import CleanStep, clean_asset
from assets.streams import ADS
from spark.transforms.ecommerce.ads import (
    CLEAN_KEY,
    QUARANTINE_KEY,
    clean_ad_events,
    flag_ad_events,
    quarantined_ad_events,
)

ADS_STEP = CleanStep.of(
    ADS,
    flag=flag_ad_events,
    keep=clean_ad_events,
    reject=quarantined_ad_events,
    partition_column="ingested_on",
    clean_key=CLEAN_KEY,
    quarantine_key=QUARANTINE_KEY,
)

ads_clean = clean_asset(
    ADS_STEP,
    ADS.clean_step_name,
    ADS.group,
    (
        "Ad events of the pull day: typed (event_ts UTC, cost and revenue in EUR), one row per "
        "event_id; late events (event_date before the pull day) kept and flagged is_late.",
        "Landed ad events that failed validation, with the payload and the reason.",
    ),
)
