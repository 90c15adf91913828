"""The platform's clock: the one "now" that decides which day it is.

Everything that asks "which days exist, which are over, how late is it" reads `now()`: the
newest daily partition (assets/partitions.py, the sensors), what the landing holds back as
future-dated (assets/landing/held.py), when a held message is overdue, the exporter's window of days.

`PLATFORM_NOW` fixes it at one instant (ISO 8601; a stamp without an offset is UTC, as every
stamp the platform reads): the test suite sets it, so its days are partitions and its future
stays in the future whatever the machine's clock says, and an operator can replay "as of" a
moment. Unset, it is the system clock.

Not read from here, on purpose: durations (timeouts, rate limits, a step's seconds, the age of a
commit in the event log), which measure real time, and provenance stamps (`fetched_at`,
`ingested_at`, `received_at`), which record when the platform really did something.
"""

import os
from datetime import UTC, date, datetime, timedelta

from assets.core.event_time import parse_utc

ENV = "PLATFORM_NOW"


class ClockError(ValueError):
    """`PLATFORM_NOW` is set but is not an instant."""


def fixed_now() -> datetime | None:
    """The instant `PLATFORM_NOW` fixes, or None when the platform follows the system clock."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return None
    moment = parse_utc(text)
    if moment is None:
        raise ClockError(f"{ENV}={text!r} is not an ISO 8601 instant (for example 2026-11-21T06:00:00Z)")
    return moment


def now() -> datetime:
    """The platform's now, an aware UTC datetime."""
    return fixed_now() or datetime.now(UTC)


def today() -> date:
    """The platform's UTC day."""
    return now().date()


def days_ahead_of_system(system_now: datetime | None = None) -> int:
    """Whole days the platform's clock is ahead of the system clock (negative: behind; 0 unset).

    Dagster decides which daily partitions exist from the system clock; shifting its last
    partition by this many days (`end_offset`) puts it on the platform clock's last ended day."""
    fixed = fixed_now()
    if fixed is None:
        return 0
    return (fixed.date() - (system_now or datetime.now(UTC)).astimezone(UTC).date()) // timedelta(days=1)


if __name__ == "__main__":
    # `make run`'s default DATE: the last ended day on the platform's clock.
    print((today() - timedelta(days=1)).isoformat())
