"""Behaviour every TopicLog must have, run against Kafka (a real Tansu broker) and the embedded log."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from orchestration.resources.kafka import OffsetRange, TopicMessage, contract_for, decode, partition_for

T = "openaq.measurements"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def read_all(log, topic):
    return [
        rec
        for p, end in sorted(log.end_offsets(topic).items())
        for rec in log.read_range(OffsetRange(topic, p, 0, end))
    ]


def test_produce_counts_and_dead_letters_the_poison_message(topic_log, make_measurement):
    good = [make_measurement(sensor, DAY + timedelta(minutes=sensor)) for sensor in range(1, 21)]
    poison = TopicMessage("99", {"sensor_id": "not an int"}, DAY)
    result = topic_log.produce(T, [*good[:10], poison, *good[10:]], source="openaq")

    assert (result.produced, result.dead_lettered) == (20, 1)
    assert sum(last - first + 1 for first, last in result.offsets.values()) == 20
    assert topic_log.topic_size(T) == 20
    assert topic_log.topic_size(f"{T}.dlq") == 1
    (dead,) = read_all(topic_log, f"{T}.dlq")
    assert json.loads(dead.value) == {"sensor_id": "not an int"} and dead.key == "99"
    assert dead.headers["original_topic"] == T
    assert dead.headers["dlq_reason"].startswith("schema: ")
    assert dead.headers["source"] == "openaq"


def test_keys_land_in_stable_partitions(topic_log, make_measurement):
    for hour in range(3):
        batch = [make_measurement(s, DAY + timedelta(hours=hour)) for s in range(1, 31)]
        topic_log.produce(T, batch, "openaq")
    placed: dict[str, set[int]] = {}
    for rec in read_all(topic_log, T):
        placed.setdefault(rec.key, set()).add(rec.partition)
    assert len(placed) == 30
    # One partition per key across calls, and the same one on Kafka and embedded (CRC-32).
    assert all(parts == {partition_for(key, 3)} for key, parts in placed.items())


def test_end_offsets_are_exact_after_batched_produce(topic_log, make_measurement):
    assert topic_log.end_offsets(T) == {}  # topic not created yet: nothing to consume
    messages = [make_measurement(s % 40, DAY + timedelta(seconds=s)) for s in range(300)]
    result = topic_log.produce(T, messages, source="openaq")
    expected = {p: 0 for p in range(3)} | {p: last + 1 for p, (_, last) in result.offsets.items()}
    assert topic_log.end_offsets(T) == expected
    assert sum(expected.values()) == 300


def test_read_range_returns_exactly_start_to_end_in_order(topic_log, make_measurement):
    topic_log.produce(T, [make_measurement(7, DAY + timedelta(minutes=m)) for m in range(12)], "openaq")
    p = partition_for("7", 3)
    records = topic_log.read_range(OffsetRange(T, p, 3, 8))
    assert [r.offset for r in records] == [3, 4, 5, 6, 7]
    assert [r.timestamp_ms for r in records] == [ms(DAY + timedelta(minutes=m)) for m in range(3, 8)]
    first = records[0]
    assert (first.topic, first.partition, first.key) == (T, p, "7")
    assert first.headers == {
        "source": "openaq",
        "schema_version": "1",
        "partition_day": "2026-11-20",
        "event_time": "2026-11-20T00:03:00+00:00",
    }
    assert decode(first, contract_for(T))[0]["sensor_id"] == 7
    assert topic_log.read_range(OffsetRange(T, p, 5, 5)) == []
    with pytest.raises(ValueError):
        topic_log.read_range(OffsetRange(T, p, 10, 20))  # beyond the end: cannot read them all


def test_commit_then_committed(topic_log, make_measurement):
    topic_log.produce(T, [make_measurement(s, DAY) for s in range(20)], "openaq")
    assert topic_log.committed("sinks", T) == {0: 0, 1: 0, 2: 0}
    topic_log.commit("sinks", OffsetRange(T, 1, 0, 3))
    topic_log.commit("sinks", OffsetRange(T, 2, 0, 2))
    topic_log.commit("sinks", OffsetRange(T, 1, 3, 4))  # the next range moves the group on
    assert topic_log.committed("sinks", T) == {0: 0, 1: 4, 2: 2}
    assert topic_log.committed("another-group", T) == {0: 0, 1: 0, 2: 0}


def test_offsets_for_time_finds_the_first_message_of_a_day(topic_log, make_measurement):
    hours = [-5, -1, 0, 3, 23, 24, 30]  # relative to DAY: the day before, DAY, the day after
    messages = [make_measurement(s, DAY + timedelta(hours=h)) for h in hours for s in (1, 2, 3, 4)]
    topic_log.produce(T, messages, "openaq")
    records = read_all(topic_log, T)
    ends = topic_log.end_offsets(T)

    def first_at_or_after(moment):
        return {
            p: min((r.offset for r in records if r.partition == p and r.timestamp_ms >= ms(moment)), default=ends[p])
            for p in ends
        }

    found = topic_log.offsets_for_time(T, ms(DAY))
    assert found == first_at_or_after(DAY)
    assert all(r.headers["partition_day"] == "2026-11-20" for r in records if r.offset == found[r.partition])
    next_day = DAY + timedelta(days=1)
    assert topic_log.offsets_for_time(T, ms(next_day)) == first_at_or_after(next_day)
    assert topic_log.offsets_for_time(T, ms(DAY - timedelta(days=9))) == {p: 0 for p in ends}
    assert topic_log.offsets_for_time(T, ms(DAY + timedelta(days=9))) == ends


def test_corrupt_record_decodes_to_a_reason_and_goes_to_the_dlq(topic_log, make_measurement, write_raw):
    topic_log.produce(T, [make_measurement(5, DAY), make_measurement(5, DAY + timedelta(hours=1))], "openaq")
    write_raw(topic_log, T, "5", b"\x00garbage{", ms(DAY + timedelta(hours=2)))
    write_raw(topic_log, T, "5", b'{"sensor_id": 5', ms(DAY + timedelta(hours=3)))
    topic_log.produce(T, [make_measurement(5, DAY + timedelta(hours=4))], "openaq")

    p = partition_for("5", 3)
    records = topic_log.read_range(OffsetRange(T, p, 0, topic_log.end_offsets(T)[p]))
    decoded = [decode(r, contract_for(T)) for r in records]
    assert [reason is None for _, reason in decoded] == [True, True, False, False, True]
    assert [value["sensor_id"] for value, _ in decoded if value] == [5, 5, 5]
    assert decoded[3][1].startswith("not JSON: ")

    for rec, (_, reason) in zip(records, decoded, strict=False):
        if reason:
            topic_log.dead_letter(rec, reason)
    dead = sorted(read_all(topic_log, f"{T}.dlq"), key=lambda r: int(r.headers["original_offset"]))
    assert [r.value for r in dead] == [b"\x00garbage{", b'{"sensor_id": 5']
    assert [r.headers["original_offset"] for r in dead] == ["2", "3"]
    assert all(r.headers["original_topic"] == T and r.headers["original_partition"] == str(p) for r in dead)
    assert dead[1].headers["dlq_reason"] == decoded[3][1]
    assert dead[0].timestamp_ms == ms(DAY + timedelta(hours=2))  # keeps the original event time
