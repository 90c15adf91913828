"""Messages held too long: the warn check `no_message_held_overdue` on each topic.

A future-dated message waits in the raw zone's holding area (assets/landing/held.py) until its day is
a partition and the day's landing moves it in. One still held HELD_MESSAGE_ALERT_DAYS days
(default 2) after its day ended was not moved in: the day was never landed, or its landings
fail, so the message is in neither the day's tables nor the marts. The check warns, naming the
days and counts; the committer evaluates it on every tick and reports a change once, the
exporter's `airstream_held_overdue_messages` counts the same messages with the same threshold
(alert HeldMessagesOverdue). Landing the named day (any run of it) moves them in.

How far ahead a message is dated is not an alert: it is held, committed past and counted
(`airstream_held_messages`, `airstream_held_oldest_day_timestamp_seconds`).
"""

import os
from datetime import date, datetime

import dagster as dg

from assets.core import clock
from assets.landing.held import held_days, overdue
from assets.ports import Lake
from assets.streams import STREAMS
from assets.topics import topic_key

CHECK_NAME = "no_message_held_overdue"


def alert_days() -> float:
    return float(os.getenv("HELD_MESSAGE_ALERT_DAYS", "2"))


def overdue_evaluation(topic: str, late: dict[date, int], days: float) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=topic_key(topic),
        check_name=CHECK_NAME,
        passed=not late,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "; ".join(
                f"{n} message(s) of {day} still held, {day} ended over {days:g} days ago" for day, n in late.items()
            )
            or "no message is held past its day"
        ),
        metadata={
            "overdue_messages": sum(late.values()),
            "overdue_days": {day.isoformat(): n for day, n in sorted(late.items())},
            "threshold_days": days,
        },
    )


def held_overdue(lake: Lake, table: str, now: datetime | None = None, days: float | None = None) -> dict[date, int]:
    """The held days of `table` overdue at `now` (default: the clock) by `days` (default: env)."""
    return overdue(held_days(lake, table), now or clock.now(), alert_days() if days is None else days)


def held_message_check(topic: str, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=topic_key(topic),
        name=CHECK_NAME,
        description="Warns while a message of the topic is still held (raw zone's holding area) more than "
        "HELD_MESSAGE_ALERT_DAYS after its day ended; landing the day named in the metadata moves it in.",
    )
    def _check(lake: dg.ResourceParam[Lake]) -> dg.AssetCheckResult:
        days = alert_days()
        evaluation = overdue_evaluation(topic, held_overdue(lake, table, days=days), days)
        return dg.AssetCheckResult(
            passed=evaluation.passed,
            severity=evaluation.severity,
            description=evaluation.description,
            metadata=evaluation.metadata,
        )

    return _check


held_message_checks = [held_message_check(s.topic, s.table) for s in STREAMS]
