"""The ad events stream's source: the day's pull published to `ads.events`.

Message day: every event of a day's pull belongs to that day, whatever its own timestamp. A
late event (its `ts` on an earlier day) is published with today's events and lands in today's
raw partition, where the clean step keeps it with its real time (`is_late`); were it filed
under its own day, it would wait in the topic for a landing of a day that already ran, and
hold the consumer group's offsets back for good.
"""

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Protocol

import dagster as dg

from assets.core.days import day_window
from assets.core.event_time import parse_utc
from assets.core.stream import TopicLog, TopicMessage
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake
from assets.producers import publish_metadata, published
from assets.publish_ledger import publish_new
from assets.streams import ADS
from assets.topics import ADS_TOPIC, topic_spec

ADS_PULL = ADS.pull_key
GROUP = ADS.group


class AdEventSource(Protocol):
    mode: str

    def skip_reason(self) -> str | None: ...

    def fetch_events(self, day: date) -> Iterator[dict]: ...


def message_time(event: dict, day_start: datetime) -> datetime:
    """The event's own time when it falls in the pulled day, else the day's start (a late or
    unparseable `ts`: the clean step decides what it is). Read by the one rule the clean step
    applies too: a `ts` without an offset is UTC."""
    moment = parse_utc(event.get("ts")) if isinstance(event, dict) else None
    if moment is None or not day_start <= moment < day_start + timedelta(days=1):
        return day_start
    return moment


def ad_event_messages(events: Iterable[dict], day_start: datetime) -> Iterator[TopicMessage]:
    """One message per event, keyed by campaign id (empty when missing), the event as value."""
    for event in events:
        campaign = event.get("campaign_id") if isinstance(event, dict) else None
        yield TopicMessage(key=str(campaign or ""), value=event, event_time=message_time(event, day_start))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ADS_PULL,
            description="The day's ad events (impressions, clicks, conversions) from the ad server's export.",
            group_name=GROUP,
            kinds={"api", "python"},
        ),
        topic_spec(ADS_TOPIC, ADS_PULL, GROUP, "one message per ad event, keyed by campaign id."),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def ads_events_pull(
    context: dg.AssetExecutionContext,
    ads: dg.ResourceParam[AdEventSource],
    kafka: dg.ResourceParam[TopicLog],
    lake: dg.ResourceParam[Lake],
):
    # No ad server configured (live, no ADS_EVENTS_URL) is a skip, not a failure: the day is
    # published empty (the topic exists, nothing in it), so landing, clean, dbt and the
    # accounting run on an empty day with exact zeros, and a later pull with a URL set still
    # publishes the whole day (the ledger recorded nothing).
    skip = ads.skip_reason()
    if skip:
        context.log.warning(
            f"ads pull skipped: {skip} (ADS_EVENTS_MODE is live, no ad server to call); the ad flow"
            " gets an empty day. Set ADS_EVENTS_URL, or ADS_EVENTS_MODE=sample"
        )
    per_day = {}
    for day in partition_days(context):
        start, _ = day_window(day)
        messages = ad_event_messages(() if skip else ads.fetch_events(day), start)
        result, already, _ = publish_new(kafka, lake, ADS_TOPIC, day, messages, "ads")
        per_day[day.isoformat()] = publish_metadata(result, {"already_published": already})
        context.log.info(f"published ad events {day}: {per_day[day.isoformat()]}")
    yield from published(ADS_PULL, ADS_TOPIC, ads.mode, per_day, skipped=skip)
