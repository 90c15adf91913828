"""The embedded log stores many messages a row: offsets, order, retention and time lookups must
read exactly as with one row a message, across batch boundaries."""

from datetime import UTC, datetime, timedelta

import pytest

from orchestration.resources.kafka import EmbeddedTopicLogResource, OffsetRange
from orchestration.resources.kafka import embedded as embedded_module

T = "openaq.measurements"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def log(tmp_path) -> EmbeddedTopicLogResource:
    return EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"), partitions=1)


def test_a_produce_of_many_chunks_is_gap_free_in_produce_order(log, make_measurement, monkeypatch):
    monkeypatch.setattr(embedded_module, "_CHUNK", 7)  # 50 messages: 8 chunks, so 8 batch rows
    moments = [DAY + timedelta(minutes=(37 * i) % 50) for i in range(50)]  # event times not ordered
    result = log.produce(T, [make_measurement(i, at) for i, at in enumerate(moments)], source="openaq")
    assert result.produced == 50 and result.offsets == {0: (0, 49)}
    records = log.read_range(OffsetRange(T, 0, 0, 50))
    assert [r.offset for r in records] == list(range(50))
    assert [r.timestamp_ms for r in records] == [ms(at) for at in moments]
    assert [r.key for r in records] == [str(i) for i in range(50)]
    # A range cut inside batches reads only its own offsets, each with its own key, value,
    # headers and timestamp (a batch is sliced, and its distinct headers parsed once).
    cut = log.read_range(OffsetRange(T, 0, 10, 23))
    assert [r.offset for r in cut] == list(range(10, 23))
    assert cut == records[10:23]
    assert len({r.headers["event_time"] for r in cut}) > 1
    first = next(i for i, at in enumerate(moments) if at >= DAY + timedelta(minutes=40))
    assert log.offsets_for_time(T, ms(DAY + timedelta(minutes=40))) == {0: first}
    assert log.offsets_for_time(T, ms(DAY + timedelta(days=1))) == {0: 50}


def test_delete_records_inside_a_batch_moves_the_start_and_keeps_offsets(log, make_measurement):
    log.produce(T, [make_measurement(7, DAY + timedelta(hours=h)) for h in range(6)], source="openaq")
    log.delete_records(T, before=2)
    with pytest.raises(ValueError, match="only 4 records exist"):
        log.read_range(OffsetRange(T, 0, 0, 6))
    assert [r.offset for r in log.read_range(OffsetRange(T, 0, 2, 6))] == [2, 3, 4, 5]
    # Offset 0 and 1 are gone: a lookup before them finds the new start, not a deleted message.
    assert log.offsets_for_time(T, ms(DAY)) == {0: 2}
    result = log.produce(T, [make_measurement(7, DAY)], source="openaq")
    assert result.offsets == {0: (6, 6)}, "offsets are never reused"
    log.delete_records(T)
    assert log.end_offsets(T) == {0: 7}
    assert log.offsets_for_time(T, ms(DAY)) == {0: 7}
    assert log.read_range(OffsetRange(T, 0, 7, 7)) == []


def test_a_file_of_another_layout_is_refused_not_misread(tmp_path, make_measurement):
    import sqlite3

    path = tmp_path / "topics.sqlite"
    with sqlite3.connect(path) as conn:  # what the one-row-a-message version left behind
        conn.execute("create table records (topic text)")
        conn.execute("pragma user_version = 1")
    with pytest.raises(RuntimeError, match="delete it"):
        EmbeddedTopicLogResource(path=str(path)).end_offsets(T)
