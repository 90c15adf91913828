"""The API pulls: each publishes one UTC day of its source to a Kafka topic.

From here on the topic is the system of record: the consumer side, not the pull, writes the
lake's raw zone, so a sensor, a schedule and the CLI all land the same messages.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import dagster as dg

from assets.core.days import day_window
from assets.core.event_time import period_start
from assets.core.lake_days import LakeDays
from assets.core.stream import Record, TopicLog, TopicMessage
from assets.lake_io import lake_input
from assets.openaq_catalogue import read_locations
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, MeasurementPageLike, OpenAQSource, UserSource
from assets.publish_ledger import publish_new, record_digest
from assets.streams import OPENAQ, USERS
from assets.topics import OPENAQ_TOPIC, USERS_TOPIC, topic_key, topic_spec


def measurement_event_time(measurement: dict, day_start: datetime) -> datetime:
    """A measurement's event time is its period start; one without a usable period stays in
    the day it was requested for (its quarantine reason is decided by the clean step)."""
    return period_start(measurement) or day_start


def measurement_messages(
    pages: Iterable[MeasurementPageLike], day_start: datetime, rejected: list
) -> Iterator[TopicMessage]:
    """Pages -> one message per measurement; malformed pages are appended to `rejected`."""
    for page in pages:
        fetched_at = datetime.now(UTC).isoformat()
        sensor = page.sensor
        if page.rejected_reason is not None:
            rejected.append(page)
        for measurement in page.results:
            yield TopicMessage(
                key=str(sensor.sensor_id),
                value={
                    "location_id": sensor.location_id,
                    "sensor_id": sensor.sensor_id,
                    "fetched_at": fetched_at,
                    "measurement": measurement,
                },
                event_time=measurement_event_time(measurement, day_start),
            )


def rejected_page_record(page: MeasurementPageLike, day_start: datetime) -> Record:
    body = {
        "location_id": page.sensor.location_id,
        "sensor_id": page.sensor.sensor_id,
        "page": page.page,
        "raw_body": page.raw_body,
    }
    return Record(
        topic=OPENAQ_TOPIC,
        partition=-1,
        offset=-1,
        key=str(page.sensor.sensor_id),
        value=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"source": "openaq", "partition_day": day_start.date().isoformat()},
        timestamp_ms=int(day_start.timestamp() * 1000),
    )


OPENAQ_PULL = OPENAQ.pull_key
RAW_LOCATIONS = dg.AssetKey(["raw", "openaq_locations"])
USERS_PULL = USERS.pull_key


def published(pull: dg.AssetKey, topic: str, source_mode: str, per_day: dict, skipped: str | None = None):
    """The pull's and its topic's materializations: the topic gets the offsets written. A pull
    that had no source to call says why in `skipped`, on both (the UI shows either)."""
    written = sum(d["messages_written"] for d in per_day.values())
    dead = sum(d["dead_lettered"] + d.get("rejected_pages", 0) for d in per_day.values())
    skip = {"skipped": skipped} if skipped else {}
    yield dg.MaterializeResult(
        asset_key=pull,
        metadata={
            "source_mode": source_mode,
            **skip,
            "messages_written": written,
            "dead_lettered": dead,
            "per_day": per_day,
        },
    )
    yield dg.MaterializeResult(
        asset_key=topic_key(topic),
        metadata={
            **skip,
            "messages_written": written,
            "offsets_written": {day: d["offsets"] for day, d in per_day.items()},
        },
    )


def publish_metadata(result, extra: dict) -> dict:
    return {
        "messages_written": result.produced,
        "dead_lettered": result.dead_lettered,
        "offsets": {str(p): list(span) for p, span in sorted(result.offsets.items())},
        **extra,
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            OPENAQ_PULL,
            deps=[RAW_LOCATIONS],
            description="The OpenAQ v3 pull of the day's measurements for every catalogue sensor.",
            group_name=OPENAQ.group,
            kinds={"api", "python"},
        ),
        topic_spec(OPENAQ.topic, OPENAQ_PULL, OPENAQ.group, "one message per OpenAQ measurement, keyed by sensor id."),
    ],
    ins={"catalogue": lake_input(RAW_LOCATIONS.path)},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def openaq_measurements_pull(
    context: dg.AssetExecutionContext,
    openaq: dg.ResourceParam[OpenAQSource],
    kafka: dg.ResourceParam[TopicLog],
    lake: dg.ResourceParam[Lake],
    catalogue: LakeDays,
):
    per_day = {}
    for day in partition_days(context):
        start, end = day_window(day)
        rejected: list = []
        pages = openaq.fetch_measurement_pages(read_locations(catalogue, day), start, end)
        messages = measurement_messages(pages, start, rejected)
        result, skipped, ledger = publish_new(kafka, lake, OPENAQ_TOPIC, day, messages, "openaq")
        # A malformed page goes to the DLQ once too: recorded in the same ledger after its publish.
        seen, pages_done = ledger.published(), []
        for page in rejected:
            record = rejected_page_record(page, start)
            if (d := record_digest(record)) not in seen:
                kafka.dead_letter(record, f"malformed_page: {page.rejected_reason}")
                pages_done.append(d)
        ledger.record(pages_done)
        per_day[day.isoformat()] = publish_metadata(
            result, {"rejected_pages": len(pages_done), "already_published": skipped + len(rejected) - len(pages_done)}
        )
        context.log.info(f"published OpenAQ {day}: {per_day[day.isoformat()]}")
    yield from published(OPENAQ_PULL, OPENAQ_TOPIC, openaq.mode, per_day)


# randomuser.me serves every user's password, its salt and three hashes of it. No consumer
# needs them, so the pull drops them before anything is validated or written (data
# minimisation): no topic, DLQ, lake file, table or sink ever holds one.
CREDENTIAL_KEYS = ("password", "salt", "md5", "sha1", "sha256")


def without_credentials(user):
    """The user object minus `login`'s credential keys (a copy; anything else as received)."""
    login = user.get("login") if isinstance(user, dict) else None
    if not isinstance(login, dict) or not login.keys() & set(CREDENTIAL_KEYS):
        return user
    return {**user, "login": {k: v for k, v in login.items() if k not in CREDENTIAL_KEYS}}


def user_messages(users: Iterable[dict], day_start: datetime) -> Iterator[TopicMessage]:
    """One message per user, keyed by login.uuid, credentials dropped; every user of a day's
    pull belongs to that day."""
    fetched_at = datetime.now(UTC).isoformat()
    for user in map(without_credentials, users):
        login = user.get("login") if isinstance(user, dict) else None
        key = str((login or {}).get("uuid") or "") if isinstance(login, dict) else ""
        yield TopicMessage(key=key, value={"fetched_at": fetched_at, "user": user}, event_time=day_start)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            USERS_PULL,
            description="The randomuser.me pull of the day's users (seeded by the day), credentials dropped.",
            group_name=USERS.group,
            kinds={"api", "python"},
        ),
        topic_spec(USERS.topic, USERS_PULL, USERS.group, "one message per randomuser.me user, keyed by login.uuid."),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def randomuser_users_pull(
    context: dg.AssetExecutionContext,
    randomuser: dg.ResourceParam[UserSource],
    kafka: dg.ResourceParam[TopicLog],
    lake: dg.ResourceParam[Lake],
):
    per_day = {}
    for day in partition_days(context):
        start, _ = day_window(day)
        messages = user_messages(randomuser.fetch_users(day), start)
        result, skipped, _ = publish_new(kafka, lake, USERS_TOPIC, day, messages, "randomuser")
        per_day[day.isoformat()] = publish_metadata(result, {"already_published": skipped})
        context.log.info(f"published users {day}: {per_day[day.isoformat()]}")
    yield from published(USERS_PULL, USERS_TOPIC, randomuser.mode, per_day)
