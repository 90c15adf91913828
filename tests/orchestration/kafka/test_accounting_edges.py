"""The loss accounting at its edges: a partition's last messages, or a whole partition, missing
from the raw zone is a loss named by partition and offsets, whether the landing's own record of
what it read or the consumer group's committed offsets say the messages were landed; and a
dead-lettered message is counted in the DLQ topic, so an entry missing there fails the check on
`dead_lettered`."""

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.accounting import balance_result, day_accounts, days_accounts, offset_ranges
from assets.core.stream import OffsetRange, dlq_topic
from assets.landing import land_day
from assets.landing.config import LandingConfig
from assets.offsets import commit_landed
from assets.streams import STREAMS
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource

DAY = date(2026, 11, 20)
FLOW = next(f for f in STREAMS if f.topic == OPENAQ_TOPIC)
MESSAGES = 60


@pytest.fixture
def landed(tmp_path, make_measurement):
    """60 messages of the day landed whole; returns the log, the lake and the landing's counts."""
    kafka, lake = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite")), LakeResource(root=str(tmp_path))
    start = datetime(2026, 11, 20, tzinfo=UTC)
    kafka.produce(
        OPENAQ_TOPIC,
        [make_measurement(sensor_id=i, at=start + timedelta(minutes=i)) for i in range(MESSAGES)],
        source="openaq",
    )
    counts = land_day(kafka, lake, FLOW.table, OPENAQ_TOPIC, DAY, LandingConfig())
    assert counts["landed"] == MESSAGES
    return kafka, lake, counts


def declared(counts: dict) -> dict[int, list[tuple[int, int]]]:
    """The landing's `covered` as the check reads it back from the materialization."""
    return {int(p): [tuple(pair) for pair in pairs] for p, pairs in counts["covered"].items()}


def write_clean(lake: LakeResource, rows: int) -> None:
    """A clean day of `rows` rows (the clean side balances; only the landing side is under test)."""
    directory = lake.partition_dir("clean", FLOW.table, DAY)
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"n": list(range(rows))}), directory / "part-0.parquet")


def raw_offsets(lake: LakeResource) -> dict[int, list[int]]:
    table = pq.read_table(lake.partition_dir("raw", FLOW.table, DAY), columns=["kafka_partition", "kafka_offset"])
    out: dict[int, list[int]] = {}
    for p, o in zip(table["kafka_partition"].to_pylist(), table["kafka_offset"].to_pylist(), strict=True):
        out.setdefault(p, []).append(o)
    return {p: sorted(o) for p, o in out.items()}


def drop_from_raw(lake: LakeResource, keep) -> None:
    """Rewrite each raw file of the day keeping the rows for which `keep(partition, offset)`."""
    for path in lake.partition_dir("raw", FLOW.table, DAY).glob("*.parquet"):
        table = pq.read_table(path)
        pairs = zip(table["kafka_partition"].to_pylist(), table["kafka_offset"].to_pylist(), strict=True)
        mask = [keep(p, o) for p, o in pairs]
        kept = table.filter(pa.array(mask))
        if kept.num_rows:
            pq.write_table(kept, path)
        else:
            path.unlink()


def test_a_whole_day_balances_with_nothing_lost(landed):
    kafka, lake, counts = landed
    write_clean(lake, MESSAGES)
    accounts = day_accounts(kafka, lake, FLOW, DAY, duplicates=0, declared=declared(counts))
    assert accounts["balanced"], accounts
    assert (accounts["topic_messages"], accounts["landed"], accounts["lost_messages"]) == (MESSAGES, MESSAGES, 0)
    assert accounts["lost"] == {} and accounts["not_yet_landed"] == 0


@pytest.mark.parametrize("declared_by", ["the landing's record", "the committed offsets"])
def test_a_lost_tail_and_a_lost_partition_are_named(landed, declared_by):
    kafka, lake, counts = landed
    if declared_by == "the committed offsets":
        assert commit_landed(kafka, lake, FLOW.table, OPENAQ_TOPIC) == kafka.end_offsets(OPENAQ_TOPIC)
        ranges = {}
    else:
        assert kafka.committed(LANDING_GROUP, OPENAQ_TOPIC) in ({}, {0: 0, 1: 0, 2: 0})
        ranges = declared(counts)
    offsets = raw_offsets(lake)
    whole, tail = sorted(offsets)[0], sorted(offsets)[1]  # one partition lost whole, another its last 3
    lost_tail = offsets[tail][-3:]
    drop_from_raw(lake, lambda p, o: p != whole and not (p == tail and o in lost_tail))
    write_clean(lake, MESSAGES - len(offsets[whole]) - 3)  # a clean day that matches what is left

    accounts = day_accounts(kafka, lake, FLOW, DAY, duplicates=0, declared=ranges)

    assert not accounts["balanced"], accounts
    assert accounts["topic_messages"] == MESSAGES and accounts["not_yet_landed"] == 0
    assert accounts["landed"] == MESSAGES - len(offsets[whole]) - 3
    assert accounts["lost_messages"] == len(offsets[whole]) + 3
    assert accounts["lost"] == {str(whole): offset_ranges(offsets[whole]), str(tail): offset_ranges(lost_tail)}
    assert accounts["missing_at_landing"] == len(offsets[whole]) + 3


def test_messages_beyond_every_declaration_are_not_yet_landed(landed, make_measurement):
    """A message produced after the landing read the day is not a loss: it is not landed yet."""
    kafka, lake, counts = landed
    kafka.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=999, at=datetime(2026, 11, 20, 23, tzinfo=UTC))], "openaq")
    write_clean(lake, MESSAGES)
    accounts = day_accounts(kafka, lake, FLOW, DAY, duplicates=0, declared=declared(counts))
    assert accounts["balanced"], accounts
    assert (accounts["topic_messages"], accounts["not_yet_landed"], accounts["lost"]) == (MESSAGES, 1, {})


@pytest.fixture
def with_rejects(tmp_path, make_measurement, write_raw):
    """60 good messages of the day and 2 that are not JSON (one key, so one partition), landed:
    the landing dead-letters the two to the DLQ topic."""
    kafka, lake = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite")), LakeResource(root=str(tmp_path))
    start = datetime(2026, 11, 20, tzinfo=UTC)
    kafka.produce(
        OPENAQ_TOPIC,
        [make_measurement(sensor_id=i, at=start + timedelta(minutes=i)) for i in range(MESSAGES)],
        "openaq",
    )
    for minute in (5, 6):
        write_raw(kafka, OPENAQ_TOPIC, "bad", b"not json", int((start + timedelta(minutes=minute)).timestamp() * 1000))
    counts = land_day(kafka, lake, FLOW.table, OPENAQ_TOPIC, DAY, LandingConfig())
    assert (counts["landed"], counts["dead_lettered"]) == (MESSAGES, 2)
    write_clean(lake, MESSAGES)
    return kafka, lake, counts


def test_dead_lettered_is_counted_in_the_dlq_topic(with_rejects):
    kafka, lake, counts = with_rejects
    accounts = day_accounts(kafka, lake, FLOW, DAY, duplicates=0, declared=declared(counts))
    assert accounts["balanced"], accounts
    assert (accounts["topic_messages"], accounts["dead_lettered"], accounts["rejects_recorded"]) == (MESSAGES + 2, 2, 2)
    assert accounts["moved"] == [] and accounts["not_in_dlq"] == {}


def test_a_dlq_entry_lost_fails_the_check_on_dead_lettered(with_rejects):
    """The landing's rejects file still records both messages; the DLQ topic holds one."""
    kafka, lake, counts = with_rejects
    dlq = dlq_topic(OPENAQ_TOPIC)
    (partition,) = [p for p, end in kafka.end_offsets(dlq).items() if end]
    (entry,) = kafka.read_range(OffsetRange(dlq, partition, 0, 1))
    kafka.delete_records(dlq, before=1)  # the partition's first entry, as retention would drop it

    accounts = day_accounts(kafka, lake, FLOW, DAY, duplicates=0, declared=declared(counts))

    assert not accounts["balanced"], accounts
    assert (accounts["dead_lettered"], accounts["rejects_recorded"], accounts["landed"]) == (1, 2, MESSAGES)
    assert accounts["missing_at_landing"] == 1 and accounts["moved"] == ["dead_lettered"]
    lost = {entry.headers["original_partition"]: entry.headers["original_offset"]}
    assert accounts["lost"] == accounts["not_in_dlq"] == lost
    result = balance_result({DAY.isoformat(): accounts})
    assert not result.passed and "the term that moved: dead_lettered" in result.description
    assert result.metadata["dead_lettered"].value == 1


def test_offset_ranges_are_runs():
    assert offset_ranges([3, 4, 5, 9, 11, 12]) == "3-5, 9, 11-12"


class CountingLog:
    """The topic log, counting the records read from each topic (the DLQ included)."""

    def __init__(self, log):
        self.log, self.records_read = log, {}

    def read_range(self, r: OffsetRange):
        records = self.log.read_range(r)
        self.records_read[r.topic] = self.records_read.get(r.topic, 0) + len(records)
        return records

    def __getattr__(self, name):
        return getattr(self.log, name)


def test_a_backfill_counts_every_day_from_one_read_of_the_topic(tmp_path, make_measurement):
    """Three days in one check give each day exactly its accounts when counted alone, from one
    read of the topic: not one read per day from the day's start to the log's end."""
    kafka, lake = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite")), LakeResource(root=str(tmp_path))
    days = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    per_day = {days[0]: 20, days[1]: 30, days[2]: 40}
    landed = {}
    for day, n in per_day.items():
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        kafka.produce(
            OPENAQ_TOPIC, [make_measurement(sensor_id=i, at=start + timedelta(minutes=i)) for i in range(n)], "openaq"
        )
    for day in days:
        landed[day] = land_day(kafka, lake, FLOW.table, OPENAQ_TOPIC, day, LandingConfig())
        directory = lake.partition_dir("clean", FLOW.table, day)
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"n": list(range(per_day[day]))}), directory / "part-0.parquet")
    # A last message of the middle day that the landing never saw: not declared, so not yet landed.
    start = datetime(days[1].year, days[1].month, days[1].day, tzinfo=UTC)
    kafka.produce(OPENAQ_TOPIC, [make_measurement(sensor_id=99, at=start + timedelta(hours=23))], "openaq")

    alone = {day: day_accounts(kafka, lake, FLOW, day, 0, declared(landed[day])) for day in days}
    counting = CountingLog(kafka)
    together = days_accounts(counting, lake, FLOW, {day: (0, declared(landed[day])) for day in days})

    assert together == alone
    assert [together[d]["topic_messages"] for d in days] == [20, 30, 40]
    assert [together[d]["not_yet_landed"] for d in days] == [0, 1, 0]
    assert all(together[d]["balanced"] for d in days)
    # One pass over the topic from the first day's first offset: every one of the 91 messages once.
    assert counting.records_read[OPENAQ_TOPIC] == sum(per_day.values()) + 1
