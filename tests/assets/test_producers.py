"""The pulls publish one message per API object, and a malformed API page goes to the DLQ
with its reason instead of being dropped."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

from assets import publish_ledger
from assets.core.codec import prepare
from assets.core.stream import OffsetRange, TopicMessage
from assets.openaq_catalogue import RAW_LOCATIONS, location_batch
from assets.partitions import daily_partitions
from assets.producers import (
    measurement_event_time,
    measurement_messages,
    openaq_measurements_pull,
    rejected_page_record,
)
from assets.publish_ledger import PublishLedger, digest, legacy_digest, record_digest
from assets.topics import OPENAQ_TOPIC
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource
from orchestration.resources.lake_io import LakeIOManager
from orchestration.resources.warehouse import DuckDBWarehouse

DAY_START = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass
class Sensor:
    sensor_id: int
    location_id: int


@dataclass
class Page:
    sensor: Sensor
    page: int
    results: list = field(default_factory=list)
    rejected_reason: str | None = None
    raw_body: str | None = None


def hour(h: int, value=10.0) -> dict:
    start = f"2026-11-20T{h:02d}:00:00Z"
    end = f"2026-11-20T{h + 1:02d}:00:00+00:00"
    return {
        "value": value,
        "parameter": {"id": 2, "name": "pm25", "units": "µg/m³"},
        "period": {"datetimeFrom": {"utc": start}, "datetimeTo": {"utc": end}},
    }


class FakeOpenAQ(dg.ConfigurableResource):
    mode: str = "fake"

    def fetch_locations(self):
        return [{"id": 7, "sensors": [{"id": 70}]}]

    def fetch_measurement_pages(self, locations, start, end):
        sensor = Sensor(70, 7)
        yield Page(sensor, 1, [hour(0), hour(1), {"value": 3.0}])
        yield Page(sensor, 2, rejected_reason="body is not JSON", raw_body="<html>502</html>")


def test_event_time_is_the_period_start_or_the_requested_day():
    assert measurement_event_time(hour(5), DAY_START) == datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert measurement_event_time({"period": None}, DAY_START) == DAY_START
    assert measurement_event_time({"period": {"datetimeFrom": {"utc": "garbage"}}}, DAY_START) == DAY_START


def lake_io(lake: LakeResource, tmp_path) -> LakeIOManager:
    return LakeIOManager(lake=lake, warehouse=DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb")))


def test_the_pull_publishes_rows_and_dead_letters_the_malformed_page(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    day = DAY_START.date()
    lake.write_partition(
        "raw", "openaq_locations", day, RAW_LOCATIONS, [location_batch(FakeOpenAQ().fetch_locations(), DAY_START)]
    )
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    result = dg.materialize(
        [openaq_measurements_pull, dg.AssetSpec(["raw", "openaq_locations"], partitions_def=daily_partitions)],
        partition_key="2026-11-20",
        resources={"openaq": FakeOpenAQ(), "lake_io_manager": lake_io(lake, tmp_path), "kafka": kafka, "lake": lake},
    )
    assert result.success
    # Three rows published: the one without a period is the clean step's to quarantine.
    assert sum(kafka.end_offsets(OPENAQ_TOPIC).values()) == 3
    dlq = OPENAQ_TOPIC + ".dlq"
    [record] = [r for p, end in kafka.end_offsets(dlq).items() for r in kafka.read_range(OffsetRange(dlq, p, 0, end))]
    assert record.headers["dlq_reason"] == "malformed_page: body is not JSON"
    assert json.loads(record.value)["raw_body"] == "<html>502</html>"
    metadata = result.asset_materializations_for_node("openaq_measurements_pull")[0].metadata
    assert metadata["messages_written"].value == 3
    assert metadata["dead_lettered"].value == 1


def test_the_pull_publishes_no_credential():
    from assets.producers import user_messages

    login = {
        "uuid": "155e77ee-ba6d-486f-95ce-0e0c0fb4b919",
        "username": "silverswan131",
        "password": "gator",
        "salt": "ptNDb0sF",
        "md5": "m",
        "sha1": "s1",
        "sha256": "s2",
    }
    served = {"email": "ana@example.com", "login": login}
    (message,) = user_messages([served], datetime(2026, 11, 20, tzinfo=UTC))
    assert message.value["user"] == {
        "email": "ana@example.com",
        "login": {"uuid": login["uuid"], "username": "silverswan131"},
    }
    assert message.key == login["uuid"] and "password" in served["login"]  # a copy: the input is untouched


class ChangingOpenAQ(FakeOpenAQ):
    """The same day a second time with one corrected value: a live source's overlap."""

    def fetch_measurement_pages(self, locations, start, end):
        sensor = Sensor(70, 7)
        yield Page(sensor, 1, [hour(0), hour(1, value=11.5), {"value": 3.0}])
        yield Page(sensor, 2, rejected_reason="body is not JSON", raw_body="<html>502</html>")


def test_a_re_run_of_the_pull_publishes_only_what_is_new(tmp_path):
    """Issue 25, item 11: a re-run whose source answers the same adds nothing to the topic or
    the DLQ; a changed message is published (the clean step keeps the latest fetch)."""
    lake = LakeResource(root=str(tmp_path))
    day = DAY_START.date()
    lake.write_partition(
        "raw", "openaq_locations", day, RAW_LOCATIONS, [location_batch(FakeOpenAQ().fetch_locations(), DAY_START)]
    )
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    dlq = OPENAQ_TOPIC + ".dlq"

    def pull(source) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [openaq_measurements_pull, dg.AssetSpec(["raw", "openaq_locations"], partitions_def=daily_partitions)],
            partition_key="2026-11-20",
            resources={"openaq": source, "lake_io_manager": lake_io(lake, tmp_path), "kafka": kafka, "lake": lake},
        )

    sizes = []
    for source in (FakeOpenAQ(), FakeOpenAQ(), ChangingOpenAQ()):
        assert pull(source).success
        sizes.append((kafka.topic_size(OPENAQ_TOPIC), kafka.topic_size(dlq)))
    assert sizes == [(3, 1), (3, 1), (4, 1)]
    [changed] = kafka.read_range(
        OffsetRange(OPENAQ_TOPIC, *next((p, end - 1, end) for p, end in kafka.end_offsets(OPENAQ_TOPIC).items() if end))
    )
    assert json.loads(changed.value)["measurement"]["value"] == 11.5


def test_a_pull_killed_before_its_ledger_record_publishes_again_and_loses_nothing(tmp_path, monkeypatch):
    """The ledger is written only after the topic acknowledged the pull: a crash in between
    re-publishes (the clean step folds the copies), and the next run records and adds nothing."""
    lake = LakeResource(root=str(tmp_path))
    lake.write_partition(
        "raw",
        "openaq_locations",
        DAY_START.date(),
        RAW_LOCATIONS,
        [location_batch(FakeOpenAQ().fetch_locations(), DAY_START)],
    )
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))

    def pull() -> bool:
        return dg.materialize(
            [openaq_measurements_pull, dg.AssetSpec(["raw", "openaq_locations"], partitions_def=daily_partitions)],
            partition_key="2026-11-20",
            resources={
                "openaq": FakeOpenAQ(),
                "lake_io_manager": lake_io(lake, tmp_path),
                "kafka": kafka,
                "lake": lake,
            },
            raise_on_error=False,
        ).success

    def killed(self, digests):
        raise SystemError("killed between the publish and the record")

    with monkeypatch.context() as m:
        m.setattr(PublishLedger, "record", killed)
        assert not pull()
    assert kafka.topic_size(OPENAQ_TOPIC) == 3, "published before the crash"
    sizes = []
    for _ in range(2):
        assert pull()
        sizes.append((kafka.topic_size(OPENAQ_TOPIC), kafka.topic_size(OPENAQ_TOPIC + ".dlq")))
    # The messages again (3 + 3); the malformed page once: the crash came before its publish.
    assert sizes == [(6, 1), (6, 1)]


def test_a_day_pulled_under_the_first_digest_form_publishes_nothing_again(tmp_path, monkeypatch):
    """A ledger written before the orjson digest (`<topic id>.digests`, `legacy_digest`) still
    counts: its messages are not published again and their new digests are recorded, so the
    next re-run finds them without the old digest. A changed message is published all the same."""
    lake = LakeResource(root=str(tmp_path))
    day = DAY_START.date()
    lake.write_partition(
        "raw", "openaq_locations", day, RAW_LOCATIONS, [location_batch(FakeOpenAQ().fetch_locations(), DAY_START)]
    )
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    kafka.ensure_topic(OPENAQ_TOPIC)
    ledger = PublishLedger(lake, OPENAQ_TOPIC, day, kafka.topic_id(OPENAQ_TOPIC))
    rejected: list = []
    pages = FakeOpenAQ().fetch_measurement_pages(None, DAY_START, None)
    messages = list(measurement_messages(pages, DAY_START, rejected))
    old = [legacy_digest(m) for m in messages] + [record_digest(rejected_page_record(p, DAY_START)) for p in rejected]
    ledger.legacy_path.parent.mkdir(parents=True)
    ledger.legacy_path.write_bytes(b"".join(old))
    legacy_calls = []
    monkeypatch.setattr(publish_ledger, "legacy_digest", lambda m: legacy_calls.append(m) or legacy_digest(m))

    def pull(source) -> dict:
        legacy_calls.clear()
        result = dg.materialize(
            [openaq_measurements_pull, dg.AssetSpec(["raw", "openaq_locations"], partitions_def=daily_partitions)],
            partition_key="2026-11-20",
            resources={"openaq": source, "lake_io_manager": lake_io(lake, tmp_path), "kafka": kafka, "lake": lake},
        )
        assert result.success
        (figures,) = (
            result.asset_materializations_for_node("openaq_measurements_pull")[0].metadata["per_day"].value.values()
        )
        keys = ("messages_written", "dead_lettered", "rejected_pages", "already_published")
        return {k: figures[k] for k in keys} | {"legacy_digests": len(legacy_calls)}

    assert (len(messages), len(rejected)) == (3, 1)
    nothing_new = {"messages_written": 0, "dead_lettered": 0, "rejected_pages": 0, "already_published": 4}
    assert pull(FakeOpenAQ()) == nothing_new | {"legacy_digests": 3}
    assert ledger.path.read_bytes() == b"".join(digest(m) for m in messages)
    assert digest(messages[0]) != legacy_digest(messages[0])
    assert pull(FakeOpenAQ()) == nothing_new | {"legacy_digests": 0}
    changed = {"messages_written": 1, "dead_lettered": 0, "rejected_pages": 0, "already_published": 3}
    assert pull(ChangingOpenAQ()) == changed | {"legacy_digests": 1}
    assert kafka.topic_size(OPENAQ_TOPIC) == 1 and kafka.topic_size(OPENAQ_TOPIC + ".dlq") == 0


def test_a_message_s_digest_is_its_content_in_any_key_order_without_its_fetch_time():
    value = {"sensor_id": 70, "fetched_at": "2026-11-20T01:00:00+00:00", "measurement": hour(3)}
    shuffled = {"measurement": dict(reversed(hour(3).items())), "sensor_id": 70, "fetched_at": "later"}
    at = datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert digest(TopicMessage("70", value, at)) == digest(TopicMessage("70", shuffled, at))
    assert digest(TopicMessage("70", value, at)) != digest(TopicMessage("70", {**value, "sensor_id": 71}, at))
    assert digest(TopicMessage("70", value, at)) != digest(TopicMessage("71", value, at))


def test_a_message_s_event_time_must_be_utc_even_after_the_same_instant_in_utc():
    """`prepare` computes a time's fields once; the same instant in another offset is still refused."""
    at = datetime(2026, 11, 20, tzinfo=UTC)
    in_paris = datetime(2026, 11, 20, 1, tzinfo=timezone(timedelta(hours=1)))
    assert in_paris == at
    prepared = prepare(OPENAQ_TOPIC, TopicMessage("70", {"sensor_id": 70}, at), "openaq")
    assert prepared.timestamp_ms == 1_795_132_800_000
    assert (prepared.headers["partition_day"], prepared.headers["event_time"]) == ("2026-11-20", at.isoformat())
    for refused in (in_paris, at.replace(tzinfo=None)):
        with pytest.raises(ValueError, match="event_time must be tz-aware UTC"):
            prepare(OPENAQ_TOPIC, TopicMessage("70", {"sensor_id": 70}, refused), "openaq")
