"""Daily UTC partitions shared by every asset downstream of the APIs (day rules: assets/core/days.py)."""

import warnings
from datetime import date

import dagster as dg

from assets.core import clock
from assets.core.days import FIRST_DAY, days_between

# The last partition is the last day that has ended on the platform's clock: Dagster counts from
# the system clock, so a fixed clock (PLATFORM_NOW) shifts its end by the days between the two.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_DAY.isoformat(), timezone="UTC", end_offset=clock.days_ahead_of_system()
)

# Every partitioned asset can do a range in one run, so the CLI's --partition-range and UI
# backfills start one process (and one JVM) instead of one per day.
single_run = dg.BackfillPolicy.single_run()

# The two non-stable Dagster features the project uses on purpose, both through this module:
# the single-run backfill policy above (beta) and checks partitioned like their assets, with
# `daily_partitions` (preview). Each is silenced by its exact message, so the CLI stays quiet
# while any other Beta/Preview warning, and every error, still shows.
warnings.filterwarnings("ignore", r"Parameter `backfill_policy` of function", dg.BetaWarning)
warnings.filterwarnings("ignore", r"Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days a run covers: one for a partition, several for a single-run backfill."""
    window = context.partition_time_window
    return days_between(window.start, window.end)
