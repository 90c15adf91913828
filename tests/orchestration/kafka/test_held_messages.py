"""A message of a day that is not a partition yet (issue 25, item 10): landed at once into the
raw zone's holding area (`raw/<table>_held/`, keyed by topic, partition, offset), committed
past, counted by the loss accounting as `held`, and moved into its day when that day is landed,
never lost nor landed twice, a crash mid-move included; a message still held days after its
day ended is reported (check no_message_held_overdue). Days are fixed: 2026-11-20 is the newest
partition, and one message is dated 2027-11-20, a year ahead."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.accounting import day_accounts
from assets.landing.day import land_ranges
from assets.landing.held import held_days, released_rows
from assets.landing.ranges import whole_day_ranges
from assets.offsets import commit_landed
from assets.streams import STREAMS
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.committer import CommitterCursor, overdue_changes
from orchestration.held_messages import CHECK_NAME, held_message_checks, held_overdue
from orchestration.resources import lake as lake_module
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource
from tests.orchestration.kafka.conftest import measurement
from tests.orchestration.kafka.test_landing_identity import raw_offsets

DAY, HELD_DAY = date(2026, 11, 20), date(2027, 11, 20)
TABLE, HELD = "openaq_measurements", "openaq_measurements_held"
(FLOW,) = [f for f in STREAMS if f.topic == OPENAQ_TOPIC]


def land(kafka, lake, day: date, ranges=None) -> dict:
    """The day's whole-day landing, with `day` as the newest partition."""
    ranges = whole_day_ranges(kafka, OPENAQ_TOPIC, day) if ranges is None else ranges
    return land_ranges(kafka, lake, TABLE, day, ranges, last_day=day, group=LANDING_GROUP)


@pytest.fixture
def a_year_ahead(topic_log, make_measurement):
    """One key, so one Kafka partition: the message dated a year ahead first, then five of DAY."""
    at = [datetime(2027, 11, 20, 6, tzinfo=UTC)] + [datetime(2026, 11, 20, h, tzinfo=UTC) for h in range(5)]
    for moment in at:
        topic_log.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=7, at=moment)], "openaq")
    (partition,) = [p for p, end in topic_log.end_offsets(OPENAQ_TOPIC).items() if end]
    return topic_log, partition


def lag(kafka) -> int:
    committed = kafka.committed(LANDING_GROUP, OPENAQ_TOPIC)
    return sum(end - committed.get(p, 0) for p, end in kafka.end_offsets(OPENAQ_TOPIC).items())


def test_a_future_message_is_held_committed_past_and_moved_into_its_day(a_year_ahead, tmp_path):
    kafka, partition = a_year_ahead
    lake = LakeResource(root=str(tmp_path))

    for _ in range(2):  # a replay of the day holds nothing twice
        counts = land(kafka, lake, DAY)
        commit_landed(kafka, lake, TABLE, OPENAQ_TOPIC)
        assert lag(kafka) == 0, "after a complete day the held message holds no lag"
    assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC)[partition] == 6
    assert counts["landed"] == 5 and counts["deferred"] == 1 and counts["held"] == 0
    assert sorted(raw_offsets(tmp_path, TABLE)) == [(partition, o) for o in range(1, 6)]
    assert raw_offsets(tmp_path, HELD) == [(partition, 0)], "held exactly once"

    accounts = day_accounts(kafka, lake, FLOW, HELD_DAY, duplicates=0)
    assert (accounts["topic_messages"], accounts["landed"], accounts["held"]) == (1, 0, 1)
    assert accounts["lost_messages"] == 0 and accounts["missing_at_landing"] == 0 and accounts["balanced"]

    # The day comes. Its landing moves the held message in, even with nothing left in the topic
    # to read (retention passed): no range at all.
    assert [land(kafka, lake, HELD_DAY, ranges=[])["released"] for _ in range(2)] == [1, 0]
    assert sorted(raw_offsets(tmp_path, TABLE)) == [(partition, o) for o in range(6)]
    assert raw_offsets(tmp_path, HELD) == [], "gone from the holding area"
    # ... and a whole-day run of the day, which reads it from the topic too, adds nothing.
    assert land(kafka, lake, HELD_DAY)["added"] == 0
    assert sorted(raw_offsets(tmp_path, TABLE)) == [(partition, o) for o in range(6)]
    commit_landed(kafka, lake, TABLE, OPENAQ_TOPIC)
    assert lag(kafka) == 0
    accounts = day_accounts(kafka, lake, FLOW, HELD_DAY, duplicates=0)
    assert (accounts["topic_messages"], accounts["landed"], accounts["held"]) == (1, 1, 0)
    assert accounts["lost_messages"] == 0 and accounts["missing_at_landing"] == 0


class FailingDayLake(LakeResource):
    def edit_partition(self, zone, table, day):
        if table == TABLE:
            raise OSError("disk full")
        return super().edit_partition(zone, table, day)


def test_a_crash_mid_move_loses_nothing_and_lands_nothing_twice(a_year_ahead, tmp_path, monkeypatch):
    kafka, partition = a_year_ahead
    lake = LakeResource(root=str(tmp_path))
    land(kafka, lake, DAY)

    # The day's write fails: the held message stays held, once.
    with pytest.raises(OSError, match="disk full"):
        land_ranges(kafka, FailingDayLake(root=str(tmp_path)), TABLE, HELD_DAY, [], last_day=HELD_DAY)
    assert raw_offsets(tmp_path, HELD) == [(partition, 0)]
    assert (partition, 0) not in raw_offsets(tmp_path, TABLE)

    # The day's write committed, then the process died before the held day was swapped in
    # without the held file.
    swap_in = lake_module._swap_in

    def dies_on_held(version, final):
        if HELD in str(final):
            raise KeyboardInterrupt("killed")
        return swap_in(version, final)

    monkeypatch.setattr(lake_module, "_swap_in", dies_on_held)
    with pytest.raises(KeyboardInterrupt):
        land(kafka, lake, HELD_DAY, ranges=[])
    monkeypatch.setattr(lake_module, "_swap_in", swap_in)
    assert raw_offsets(tmp_path, HELD) == [(partition, 0)] and raw_offsets(tmp_path, TABLE).count((partition, 0)) == 1
    commit_landed(kafka, lake, TABLE, OPENAQ_TOPIC)
    assert lag(kafka) == 0

    # The retry finishes the move: once in the day, gone from the holding area.
    assert land(kafka, lake, HELD_DAY, ranges=[])["released"] == 0
    assert raw_offsets(tmp_path, HELD) == []
    assert sorted(raw_offsets(tmp_path, TABLE)) == [(partition, o) for o in range(6)]


# Held days far ahead of the real clock, so their messages are ingested before their day ends
# (as in production); the check's and the exporter's clock is set to 2099.
SOON, LATER = date(2099, 11, 22), date(2099, 11, 25)


def held_lake(root: Path) -> tuple:
    """On the embedded log (one key: one partition): five messages of DAY, three of SOON and two of
    LATER; DAY landed with DAY the newest partition, so SOON and LATER are held."""
    kafka = EmbeddedTopicLogResource(path=str(root / "topics.sqlite"))
    at = [datetime(2026, 11, 20, h, tzinfo=UTC) for h in range(5)]
    at += [datetime(2099, 11, 22, h, tzinfo=UTC) for h in range(3)] + [
        datetime(2099, 11, 25, h, tzinfo=UTC) for h in range(2)
    ]
    for moment in at:
        kafka.produce(OPENAQ_TOPIC, [measurement(sensor_id=7, at=moment)], "openaq")
    lake = LakeResource(root=str(root))
    assert land(kafka, lake, DAY)["held"] == 5
    return kafka, lake


def release(kafka, lake, day: date) -> int:
    """The day's landing once it is the newest partition, with nothing left to read in the topic."""
    return land_ranges(kafka, lake, TABLE, day, [], last_day=day)["released"]


def test_a_message_held_past_its_day_is_reported_above_the_threshold_only(tmp_path, monkeypatch):
    kafka, lake = held_lake(tmp_path)
    assert held_days(lake, TABLE) == {SOON: 3, LATER: 2}
    # SOON ended on 2099-11-23 at 00:00: overdue strictly more than 2 days later.
    assert held_overdue(lake, TABLE, datetime(2099, 11, 25, tzinfo=UTC), 2) == {}
    assert held_overdue(lake, TABLE, datetime(2099, 11, 25, 0, 0, 1, tzinfo=UTC), 2) == {SOON: 3}
    three_days_after_later = datetime(2099, 11, 28, 0, 0, 1, tzinfo=UTC)
    assert held_overdue(lake, TABLE, three_days_after_later, 2) == {SOON: 3, LATER: 2}
    assert held_overdue(lake, TABLE, three_days_after_later, 3) == {SOON: 3}

    # The committer's tick reports the warn check of each topic once per change.
    monkeypatch.setenv("HELD_MESSAGE_ALERT_DAYS", "3")
    cursor = CommitterCursor()
    now = three_days_after_later
    evaluations = {e.asset_key.path[-1]: e for e in overdue_changes(lake, cursor, now)}
    assert sorted(evaluations) == ["ads_events", "openaq_measurements", "randomuser_users"]
    check = evaluations["openaq_measurements"]
    assert (check.check_name, check.passed, check.severity) == (CHECK_NAME, False, dg.AssetCheckSeverity.WARN)
    assert check.metadata["overdue_messages"].value == 3
    assert check.metadata["overdue_days"].value == {"2099-11-22": 3}
    assert check.description == "3 message(s) of 2099-11-22 still held, 2099-11-22 ended over 3 days ago"
    assert evaluations["ads_events"].passed and evaluations["randomuser_users"].passed
    assert overdue_changes(lake, cursor, now) == [], "unchanged: not reported again"

    # Landing SOON moves its messages in: counted there from the raw zone, and the check passes.
    assert [release(kafka, lake, SOON) for _ in range(2)] == [3, 0]
    assert (released_rows(lake, TABLE, SOON), released_rows(lake, TABLE, DAY)) == (3, 0)
    assert held_days(lake, TABLE) == {LATER: 2}
    [passed] = overdue_changes(lake, cursor, now)
    assert passed.passed and passed.metadata["overdue_messages"].value == 0

    # The check itself (run from the UI) applies the same rule with the real clock: 2099 is ahead.
    (check_def,) = [c for c in held_message_checks if next(iter(c.check_keys)).asset_key.path[-1] == TABLE]
    result = check_def(lake=lake)
    assert result.passed and result.metadata["overdue_messages"].value == 0
