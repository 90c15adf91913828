"""Daily UTC partitions shared by every asset downstream of the APIs."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

# Every partitioned asset can do a range in one run, so the CLI's --partition-range and UI
# backfills start one process (and one JVM) instead of one per day.
single_run = dg.BackfillPolicy.single_run()


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days a run covers: one for a partition, several for a single-run backfill."""
    window = context.partition_time_window
    return days_between(window.start, window.end)


def days_between(start: datetime, end: datetime) -> list[date]:
    first = start.astimezone(UTC).date()
    count = (end - start) // timedelta(days=1)
    return [first + timedelta(days=i) for i in range(count)]


def day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day as aware datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)
