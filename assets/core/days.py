"""The day rules: every asset is partitioned by UTC day from FIRST_DAY, and a message belongs
to the day of its event time."""

from datetime import UTC, date, datetime, timedelta

from assets.core import clock
from assets.core.stream import Record

FIRST_DAY = date(2024, 1, 1)


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days of [start, end): one for a partition, several for a single-run backfill."""
    first = start.astimezone(UTC).date()
    count = (end - start) // timedelta(days=1)
    return [first + timedelta(days=i) for i in range(count)]


def day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day as aware datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def last_complete_day(now: datetime | None = None) -> date:
    """The latest day that has ended (UTC) at `now` (default: the platform's clock,
    assets/core/clock.py): the last daily partition."""
    return (now or clock.now()).astimezone(UTC).date() - timedelta(days=1)


def record_day(record: Record) -> date:
    """The UTC day of a message's event time (its `partition_day` header, else its timestamp).

    An event older than the first partition has no day of its own; it lands in the first
    one, where the clean step quarantines it as outside its partition day: kept, with a
    reason, and its range can still be committed.
    """
    day = None
    header = record.headers.get("partition_day")
    if header:
        try:
            day = date.fromisoformat(header)
        except ValueError:
            pass
    if day is None:
        day = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).date()
    return max(day, FIRST_DAY)
