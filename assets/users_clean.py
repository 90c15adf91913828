"""Spark-cleaned randomuser.me users: typed, one row per user id, credentials gone; each day
replaced in the clean zone and the warehouse's `clean` schema by the lake IO manager."""

from assets.clean_zone import CleanStep, clean_asset
from assets.streams import USERS
from spark.transforms.users import CLEAN_KEY, QUARANTINE_KEY, clean_users, flag_users, quarantined_users

USERS_STEP = CleanStep.of(
    USERS,
    flag=flag_users,
    keep=clean_users,
    reject=quarantined_users,
    partition_column="ingested_on",
    clean_key=CLEAN_KEY,
    quarantine_key=QUARANTINE_KEY,
)

users_clean = clean_asset(
    USERS_STEP,
    USERS.clean_step_name,
    USERS.group,
    (
        "randomuser.me users of the day: typed (dob, registered as UTC timestamps; postcode as "
        "text), one row per login.uuid; no password, salt or hash.",
        "Landed user messages that failed validation, with the reason (credentials redacted).",
    ),
)
