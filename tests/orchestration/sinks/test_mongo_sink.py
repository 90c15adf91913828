"""The raw measurements sink: a replay upserts, bad documents come back, write errors fail loudly.

The behavioural tests run against a real MongoDB-wire server (SecantusDB) and the embedded store.
"""

import json
import logging
import socket
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pymongo
import pytest

from assets.core.rows import period_end_of_id, to_stored
from orchestration.resources.mongo import (
    INDEXES,
    PAGE_BYTES,
    EmbeddedMeasurementStore,
    MeasurementWriteError,
    MongoMeasurementStore,
    UpsertResult,
)

UTC = UTC


@pytest.fixture(params=["mongo", "embedded"])
def store(request, tmp_path):
    if request.param == "embedded":
        yield EmbeddedMeasurementStore(path=str(tmp_path / "sinks" / "measurements.sqlite"))
        return
    uri = request.getfixturevalue("mongo_uri")
    database = f"airstream_test_{uuid.uuid4().hex[:8]}"  # one per test: no state leaks between tests
    yield MongoMeasurementStore(uri=uri, database=database, timeout_ms=5000)
    with pymongo.MongoClient(uri) as client:
        client.drop_database(database)


def index_keys(store) -> list[tuple[str, ...]]:
    if isinstance(store, MongoMeasurementStore):
        with store._collection() as coll:
            return [tuple(k for k, _ in spec["key"]) for spec in coll.index_information().values()]
    with closing(sqlite3.connect(store.path)) as con:
        names = [row[1] for row in con.execute("pragma index_list(measurements)")]
        return [tuple(r[2] for r in con.execute(f"pragma index_info({name})")) for name in names]


def arm_write_failure(store, make_measurement) -> None:
    """Make the next write of sensor 666 fail on the server side."""
    if isinstance(store, MongoMeasurementStore):
        with store._collection() as coll:  # two documents with one Kafka offset violate it
            coll.create_index("raw.kafka.offset", unique=True)
            coll.insert_one({"_id": "squatter", "raw": {"kafka": {"offset": 666}}})
        return
    store.count()  # creates the table
    with closing(sqlite3.connect(store.path)) as con:
        con.execute(
            "create trigger disk_full before insert on measurements when new.sensor_id = 666"
            " begin select raise(abort, 'disk full'); end"
        )


# Pure: ids and rejections -------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-20T01:00:00Z",
        "2026-11-20T01:00:00+00:00",
        "2026-11-20T02:00:00+01:00",
        "2026-11-20T01:00:00",
        " 2026-11-20T01:00:00.000Z ",
    ],
)
def test_the_id_is_the_sensor_and_the_canonical_utc_period_end(make_measurement, stamp):
    stored = to_stored(make_measurement(sensor_id=7, end=stamp))
    assert stored["_id"] == "7:2026-11-20T01:00:00Z"
    assert stored["period_end"] == datetime(2026, 11, 20, 1, tzinfo=UTC)
    assert stored["period_end"].utcoffset().total_seconds() == 0


def test_sub_second_ends_keep_milliseconds_as_bson_does(make_measurement):
    stored = to_stored(make_measurement(end="2026-11-20T01:00:00.123456+00:00"))
    assert stored["_id"] == "1:2026-11-20T01:00:00.123Z"
    assert stored["period_end"].microsecond == 123000


def test_helper_fields_and_the_raw_document_are_stored(make_measurement):
    doc = make_measurement(sensor_id=3, location_id=30, parameter=(5, "no2"))
    stored = to_stored(doc)
    assert {k: stored[k] for k in ("location_id", "sensor_id", "parameter_id", "parameter_name")} == {
        "location_id": 30,
        "sensor_id": 3,
        "parameter_id": 5,
        "parameter_name": "no2",
    }
    assert stored["raw"] is doc


def test_an_id_names_its_period_end_and_nothing_else_does(make_measurement):
    for end in ("2026-11-20T01:00:00Z", "2026-11-20T01:00:00.123+00:00"):
        stored = to_stored(make_measurement(sensor_id=7, end=end))
        assert period_end_of_id(stored["_id"]) == stored["period_end"]
    not_ids = [
        "squatter",
        "7",
        "x:2026-11-20T01:00:00Z",
        "7:2026-11-20T01:00:00+00:00",
        "7:yesterday",
        ":2026-11-20T01:00:00Z",
    ]
    assert [period_end_of_id(i) for i in not_ids] == [None] * len(not_ids)


def _without_period(doc):
    del doc["measurement"]["period"]
    return doc


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (_without_period, "period end"),
        (lambda d: d["measurement"]["period"].update(datetimeTo=None) or d, "period end"),
        (lambda d: d["measurement"]["period"]["datetimeTo"].update(utc=None) or d, "period end"),
        (lambda d: d["measurement"]["period"]["datetimeTo"].update(utc="yesterday") or d, "period end"),
        # Not a string, and unhashable: the cached parse of a stamp must not see it.
        (lambda d: d["measurement"]["period"]["datetimeTo"].update(utc={"t": 1}) or d, "period end"),
        (lambda d: d["measurement"].update(period="2026-11-20") or d, "period end"),
        (lambda d: d.pop("sensor_id") and d, "sensor_id"),
        (lambda d: d.update(sensor_id="7") or d, "sensor_id"),
        (lambda d: [d], "not a JSON object"),
    ],
)
def test_documents_without_an_id_are_rejected_with_a_reason(make_measurement, spoil, reason):
    with pytest.raises(ValueError, match=reason):
        to_stored(spoil(make_measurement()))


# Behaviour, against both stores -------------------------------------------------------------


def test_a_replay_upserts_instead_of_adding(store, make_measurement):
    docs = [
        make_measurement(sensor_id=s, end=f"2026-11-20T0{h}:00:00Z", offset=10 * s + h)
        for s in (1, 2)
        for h in (1, 2, 3)
    ]
    assert store.upsert_measurements(docs) == UpsertResult(upserted=6, modified=0, matched=0)
    assert store.count() == 6
    assert store.upsert_measurements(docs) == UpsertResult(upserted=0, modified=0, matched=6)
    assert store.count() == 6

    corrected = make_measurement(sensor_id=1, end="2026-11-20T01:00:00Z", value=99.0)
    assert store.upsert_measurements([corrected]) == UpsertResult(upserted=0, modified=1, matched=1)
    assert store.count() == 6
    assert store.count({"_id": "1:2026-11-20T01:00:00Z"}) == 1


def mixed_batch(make_measurement) -> tuple[list[dict], list[dict]]:
    """Six stored documents, then a batch of two of them unchanged, two changed (moved to
    location 99), two new ones and one without an id."""
    first = [
        make_measurement(sensor_id=s, end=f"2026-11-20T0{h}:00:00Z", offset=10 * s + h)
        for s in (1, 2)
        for h in (1, 2, 3)
    ]
    changed = [make_measurement(sensor_id=2, end=f"2026-11-20T0{h}:00:00Z", location_id=99) for h in (1, 2)]
    new = [make_measurement(sensor_id=3, end=f"2026-11-21T0{h}:00:00Z", location_id=99) for h in (1, 2)]
    return first, [first[0], changed[0], new[0], make_measurement(end=None), first[1], new[1], changed[1]]


def test_a_batch_of_unchanged_changed_and_new_documents(store, make_measurement):
    first, batch = mixed_batch(make_measurement)
    store.upsert_measurements(first)
    result = store.upsert_measurements(batch)
    assert (result.upserted, result.modified, result.matched, len(result.rejected)) == (2, 2, 4, 1)
    assert store.count() == 8
    assert store.count({"location_id": 99}) == 4  # the changed ones hold their new version
    assert store.count({"sensor_id": 1, "location_id": 10}) == 3  # the unchanged ones as they were
    assert store.upsert_measurements(batch) == UpsertResult(upserted=0, modified=0, matched=6, rejected=result.rejected)


def test_count_ids_counts_the_stored_ids_of_any_day(store, make_measurement):
    first, batch = mixed_batch(make_measurement)
    store.upsert_measurements(first + batch)
    stored = ["1:2026-11-20T01:00:00Z", "2:2026-11-20T03:00:00Z", "3:2026-11-21T02:00:00Z"]
    absent = ["1:2026-11-20T04:00:00Z", "3:2026-11-22T01:00:00Z", "9:2026-11-20T01:00:00Z", "not-an-id", "1:yesterday"]
    assert store.count_ids(stored + absent) == 3
    assert store.count_ids(stored + stored[:1]) == 3  # an id counts once, as in a `$in`
    assert store.count_ids(absent) == 0
    assert store.count_ids([]) == 0


def test_z_and_plus_zero_offsets_are_the_same_document(store, make_measurement):
    first = store.upsert_measurements([make_measurement(end="2026-11-20T01:00:00Z")])
    second = store.upsert_measurements([make_measurement(end="2026-11-20T01:00:00+00:00")])
    assert (first.upserted, second.upserted, second.matched) == (1, 0, 1)
    assert store.count() == 1
    assert store.count({"_id": "1:2026-11-20T01:00:00Z"}) == 1


def test_a_duplicate_inside_one_batch_is_one_document(store, make_measurement):
    doc = make_measurement()
    assert store.upsert_measurements([doc, dict(doc)]) == UpsertResult(upserted=1, modified=0, matched=1)
    assert store.count() == 1


def test_documents_without_a_period_end_are_returned_not_dropped(store, make_measurement):
    good = [make_measurement(sensor_id=1), make_measurement(sensor_id=2)]
    no_period = _without_period(make_measurement(sensor_id=3))
    null_end = make_measurement(sensor_id=4, end=None)
    result = store.upsert_measurements([good[0], no_period, good[1], null_end])
    assert (result.upserted, result.matched) == (2, 0)
    assert [doc for doc, _ in result.rejected] == [no_period, null_end]
    assert result.rejected[0][0] is no_period  # the caller's own object, ready to dead-letter
    assert all("period end" in reason for _, reason in result.rejected)
    assert store.count() == 2


def test_a_batch_of_only_rejects_writes_nothing(store, make_measurement):
    result = store.upsert_measurements([make_measurement(end=None)])
    assert (result.upserted, result.matched, len(result.rejected)) == (0, 0, 1)
    assert store.count() == 0


def test_indexes_exist_once_however_often_we_write(store, make_measurement):
    store.upsert_measurements([make_measurement()])
    store.upsert_measurements([make_measurement(sensor_id=2)])
    keys = index_keys(store)
    for index in INDEXES:
        assert keys.count(index) == 1, keys


def test_query_by_location_parameter_and_time(store, make_measurement):
    docs = [
        make_measurement(
            sensor_id=10 * loc + p, location_id=loc, parameter=(p, f"p{p}"), end=f"2026-11-20T{h:02d}:00:00Z"
        )
        for loc in (1, 2)
        for p in (2, 5)
        for h in range(1, 7)
    ]
    store.upsert_measurements(docs)
    window = {"$gte": datetime(2026, 11, 20, 2, tzinfo=UTC), "$lt": datetime(2026, 11, 20, 5, tzinfo=UTC)}
    assert store.count({"location_id": 1}) == 12
    assert store.count({"location_id": 1, "period_end": window}) == 6
    assert store.count({"parameter_id": 5, "period_end": window}) == 6
    assert store.count({"period_end": {"$gt": datetime(2026, 11, 20, 6, tzinfo=UTC)}}) == 0
    # Naive bounds are UTC, as pymongo treats them.
    assert store.count({"period_end": {"$lte": datetime(2026, 11, 20, 1)}}) == 4


def test_a_write_error_raises(store, make_measurement):
    arm_write_failure(store, make_measurement)
    docs = [make_measurement(sensor_id=1), make_measurement(sensor_id=666, offset=666)]
    with pytest.raises(MeasurementWriteError):
        store.upsert_measurements(docs)


def landed(docs: list[dict]) -> dict[str, list]:
    """Documents as the landing wrote them: by column, the Kafka coordinates beside the JSON."""
    payloads = [orjson.dumps({k: v for k, v in doc.items() if k != "kafka"}).decode() for doc in docs]
    return {
        "payload": payloads,
        "kafka_topic": [doc["kafka"]["topic"] for doc in docs],
        "kafka_partition": [doc["kafka"]["partition"] for doc in docs],
        "kafka_offset": [doc["kafka"]["offset"] for doc in docs],
    }


def test_landed_batches_upsert_in_order_as_one_call_would(store, make_measurement):
    first = [make_measurement(sensor_id=s, offset=s) for s in (1, 2, 3)]
    replayed = make_measurement(sensor_id=2, value=99.0, offset=7)  # a later copy, in a later batch
    second = [replayed, make_measurement(sensor_id=4, end=None, offset=8), make_measurement(sensor_id=5, offset=9)]
    result = store.upsert_landed(iter([landed(first), landed([]), landed(second)]))
    assert (result.upserted, result.matched, result.modified) == (4, 1, 1)
    assert [(doc["sensor_id"], doc["kafka"]["offset"]) for doc, _ in result.rejected] == [(4, 8)]
    assert store.count() == 4
    # The later copy won, as it would have one document at a time.
    assert store.count({"_id": "2:2026-11-20T01:00:00Z"}) == 1
    again = store.upsert_landed(iter([landed(first + second)]))
    assert (again.upserted, again.matched, len(again.rejected)) == (0, 5, 1)
    assert store.count() == 4


def test_a_batch_of_several_insert_statements_with_replayed_copies(store, make_measurement):
    ends = [f"2026-11-20T{h:02d}:{m:02d}:00Z" for h in range(24) for m in range(0, 60, 5)]  # 288
    pairs = [(sensor, end) for sensor in range(9) for end in ends]  # 2,592: the embedded store loads 1,000 a statement
    docs = [make_measurement(sensor_id=sensor, end=end, offset=i) for i, (sensor, end) in enumerate(pairs)]
    replayed = [make_measurement(sensor_id=pairs[i][0], end=pairs[i][1], offset=9_000 + i) for i in (5, 1_500, 2_591)]
    result = store.upsert_measurements(docs + replayed)
    assert (result.upserted, result.matched, result.modified) == (2_592, 3, 3)
    assert store.count() == 2_592 and store.count({"sensor_id": 8}) == 288


def test_a_failed_landed_batch_stops_the_rest_and_keeps_the_earlier_ones(store, make_measurement):
    arm_write_failure(store, make_measurement)
    batches = [
        landed([make_measurement(sensor_id=1, offset=1)]),
        landed([make_measurement(sensor_id=666, offset=666)]),
        landed([make_measurement(sensor_id=3, offset=3)]),
    ]
    with pytest.raises(MeasurementWriteError):
        store.upsert_landed(iter(batches))
    assert store.count({"sensor_id": 1}) == 1
    assert store.count({"sensor_id": 3}) == 0


# MongoDB only -------------------------------------------------------------------------------


def test_the_stored_document_has_a_real_utc_datetime(mongo_uri, make_measurement):
    store = MongoMeasurementStore(uri=mongo_uri, database=f"airstream_test_{uuid.uuid4().hex[:8]}")
    doc = make_measurement(sensor_id=5, end="2026-11-20T03:00:00+02:00")
    store.upsert_measurements([doc])
    with store._collection() as coll:
        stored = coll.find_one({"_id": "5:2026-11-20T01:00:00Z"})
        coll.database.client.drop_database(store.database)
    assert stored["period_end"] == datetime(2026, 11, 20, 1, tzinfo=UTC)
    assert (stored["location_id"], stored["parameter_id"], stored["parameter_name"]) == (10, 2, "pm25")
    assert stored["raw"] == doc


def test_chunks_add_up(mongo_uri, make_measurement):
    store = MongoMeasurementStore(uri=mongo_uri, database=f"airstream_test_{uuid.uuid4().hex[:8]}", chunk_size=2)
    docs = [make_measurement(sensor_id=s) for s in range(5)]
    assert store.upsert_measurements(docs) == UpsertResult(upserted=5, modified=0, matched=0)
    assert store.upsert_measurements(docs) == UpsertResult(upserted=0, modified=0, matched=5)
    with store._collection() as coll:
        coll.database.client.drop_database(store.database)


def test_chunks_of_a_mixed_batch_add_up(mongo_uri, make_measurement):
    store = MongoMeasurementStore(uri=mongo_uri, database=f"airstream_test_{uuid.uuid4().hex[:8]}", chunk_size=2)
    first, batch = mixed_batch(make_measurement)
    store.upsert_measurements(first)
    # A new id inserted in one chunk and changed in a later one: upserted once, then modified.
    again = make_measurement(sensor_id=3, end="2026-11-21T01:00:00Z", location_id=98)
    result = store.upsert_measurements([*batch, again])
    assert (result.upserted, result.modified, result.matched, len(result.rejected)) == (2, 3, 5, 1)
    assert store.count() == 8 and store.count({"location_id": 98}) == 1
    with store._collection() as coll:
        coll.database.client.drop_database(store.database)


def test_an_id_inserted_by_another_writer_meanwhile_is_replaced(mongo_uri, make_measurement, monkeypatch):
    store = MongoMeasurementStore(uri=mongo_uri, database=f"airstream_test_{uuid.uuid4().hex[:8]}")
    store.upsert_measurements([make_measurement(sensor_id=1, value=1.0)])
    # The other writer's document lands between the lookup and the write: the lookup saw none.
    monkeypatch.setattr("orchestration.resources.mongo._existing", lambda coll, ids, projection=None: {})
    result = store.upsert_measurements([make_measurement(sensor_id=1, value=2.0), make_measurement(sensor_id=2)])
    assert result == UpsertResult(upserted=1, modified=1, matched=1)
    with store._collection() as coll:
        stored = coll.find_one({"_id": "1:2026-11-20T01:00:00Z"})
        coll.database.client.drop_database(store.database)
    assert stored["raw"]["measurement"]["value"] == 2.0


def test_count_ids_finds_documents_of_other_ids_too(mongo_uri, make_measurement):
    store = MongoMeasurementStore(uri=mongo_uri, database=f"airstream_test_{uuid.uuid4().hex[:8]}")
    store.upsert_measurements([make_measurement(sensor_id=1)])
    with store._collection() as coll:
        coll.insert_one({"_id": "squatter"})
        assert store.count_ids(["squatter", "1:2026-11-20T01:00:00Z", "other"]) == 2
        coll.database.client.drop_database(store.database)


def test_an_unreachable_server_fails_without_showing_the_password(make_measurement, caplog):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = MongoMeasurementStore(uri=f"mongodb://airstream:s3cr3t-pw@127.0.0.1:{port}/", timeout_ms=300)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(pymongo.errors.ServerSelectionTimeoutError) as raised:
        store.upsert_measurements([make_measurement()])
    assert "s3cr3t-pw" not in str(raised.value)
    assert "s3cr3t-pw" not in caplog.text


def stored_rows(store: EmbeddedMeasurementStore) -> list[tuple]:
    with closing(sqlite3.connect(store.path)) as con:
        return con.execute("select * from measurements order by _id").fetchall()


def test_landed_batches_are_stored_exactly_as_document_by_document(tmp_path, make_measurement):
    """The embedded store maps landed rows column-wise: same ids, columns, raw text, counts and
    rejects (with their reasons) as the per-document mapping, whatever a payload's shape."""
    docs = [
        make_measurement(sensor_id=s, end=f"2026-11-20T0{h}:00:00Z", offset=10 * s + h) for s in (1, 2) for h in (1, 2)
    ]
    unusual = [
        make_measurement(sensor_id=3, location_id=30.0),  # not an integer: stored one by one
        make_measurement(sensor_id=4, parameter=(2, 25)),
        make_measurement(sensor_id=5, end="2026-11-20T02:00:00+01:00", value=0.1),  # another offset, one id
        make_measurement(sensor_id=2, end="2026-11-20T01:00:00Z", value=99.0, offset=77),  # a changed copy
        make_measurement(sensor_id=1, end="2026-11-20T02:00:00Z", offset=12),  # an equal copy
    ]
    rejects = [
        make_measurement(sensor_id=6, end=None),
        make_measurement(sensor_id=7, end="yesterday"),
        _without_period(make_measurement(sensor_id=8)),
        {**make_measurement(), "sensor_id": "9"},
        {**make_measurement(), "sensor_id": True},
    ]
    batch = [*docs, rejects[0], *unusual, *rejects[1:]]
    columns = landed(batch)
    # As the producer writes them (json.dumps: spaces, non-ASCII kept), and one with a `kafka`
    # key of its own, which the consumed document's Kafka coordinates replace.
    columns["payload"] = [json.dumps(orjson.loads(p), ensure_ascii=False) for p in columns["payload"]]
    columns["payload"][1] = json.dumps({**orjson.loads(columns["payload"][1]), "kafka": "ours"})
    consumed = [orjson.loads(p) for p in columns["payload"]]
    for doc, topic, partition, offset in zip(
        consumed, *(columns[n] for n in ("kafka_topic", "kafka_partition", "kafka_offset")), strict=True
    ):
        if isinstance(doc, dict):
            doc["kafka"] = {"topic": topic, "partition": partition, "offset": offset}

    one_by_one = EmbeddedMeasurementStore(path=str(tmp_path / "one_by_one.sqlite"))
    by_column = EmbeddedMeasurementStore(path=str(tmp_path / "by_column.sqlite"))
    expected = one_by_one.upsert_measurements(consumed)
    result = by_column.upsert_landed(iter([columns]))
    assert (
        (result.upserted, result.modified, result.matched)
        == (expected.upserted, expected.modified, expected.matched)
        == (7, 1, 2)
    )
    assert result.rejected == expected.rejected and len(result.rejected) == 5
    assert [reason.split(":")[0] for _, reason in result.rejected] == [
        "period end (datetimeTo.utc) missing or not ISO 8601",
        "period end (datetimeTo.utc) missing or not ISO 8601",
        "period end (datetimeTo.utc) missing or not ISO 8601",
        "sensor_id missing or not an integer",
        "sensor_id missing or not an integer",
    ]
    assert stored_rows(by_column) == stored_rows(one_by_one)
    assert len(stored_rows(by_column)) == 7
    raw = dict((row[0], row[-1]) for row in stored_rows(by_column))
    assert raw["2:2026-11-20T01:00:00Z"] == orjson.dumps(consumed[8]).decode()  # the changed copy won
    assert orjson.loads(raw["1:2026-11-20T02:00:00Z"])["kafka"] == {
        "topic": "openaq.measurements",
        "partition": 0,
        "offset": 12,
    }
    # A replay upserts nothing; the id with two different copies in the batch is modified twice,
    # as one by one (the first copy rewrites the second's version, the second rewrites it back).
    again = by_column.upsert_landed(iter([columns]))
    assert (again.upserted, again.modified, again.matched, len(again.rejected)) == (0, 2, 9, 5)
    assert again == one_by_one.upsert_measurements(consumed)
    # A file written document by document (as before this mapping) is matched, not rewritten.
    assert one_by_one.upsert_landed(iter([columns])) == again
    assert stored_rows(by_column) == stored_rows(one_by_one)
    assert stored_rows(by_column) == stored_rows(one_by_one)


def test_a_malformed_payload_fails_its_batch_as_before(tmp_path, make_measurement):
    store = EmbeddedMeasurementStore(path=str(tmp_path / "m.sqlite"))
    good, bad = landed([make_measurement(sensor_id=1)]), landed([make_measurement(sensor_id=2)])
    bad["payload"][0] = bad["payload"][0][:-1]
    with pytest.raises(orjson.JSONDecodeError):
        store.upsert_landed(iter([good, bad]))
    assert store.count() == 1


def test_landed_batches_as_arrow_columns(store, make_measurement):
    """The sink asset hands over the lake's Arrow columns as they are."""
    docs = [make_measurement(sensor_id=s, offset=s) for s in (1, 2, 3)] + [make_measurement(sensor_id=4, end=None)]
    batch = pa.RecordBatch.from_pydict(landed(docs))
    columns = {name: batch.column(name) for name in batch.schema.names}
    result = store.upsert_landed(iter([columns]))
    assert (result.upserted, result.modified, result.matched, len(result.rejected)) == (3, 0, 0, 1)
    assert result.rejected[0][0] == docs[3]
    assert store.count() == 3 and store.count_ids([f"{s}:2026-11-20T01:00:00Z" for s in (1, 2, 3, 4)]) == 3
    again = store.upsert_landed(iter([columns]))
    assert (again.upserted, again.modified, again.matched, len(again.rejected)) == (0, 0, 3, 1)


def page_size(path: str) -> int:
    with closing(sqlite3.connect(path)) as con:
        return con.execute("pragma page_size").fetchone()[0]


def test_a_new_file_has_large_pages_and_an_older_file_keeps_its_own(tmp_path, make_measurement, monkeypatch):
    new = EmbeddedMeasurementStore(path=str(tmp_path / "new.sqlite"))
    assert new.upsert_landed(iter([landed([make_measurement()])])).upserted == 1
    assert page_size(new.path) == PAGE_BYTES == 16_384
    # A file an earlier version created (SQLite's default pages) is read and written as it is.
    older = EmbeddedMeasurementStore(path=str(tmp_path / "older.sqlite"))
    with monkeypatch.context() as earlier:
        earlier.setattr("orchestration.resources.mongo.PAGE_BYTES", None)  # as created before
        older.upsert_measurements([make_measurement(sensor_id=1)])
    assert page_size(older.path) == 4096
    result = older.upsert_landed(iter([landed([make_measurement(sensor_id=1), make_measurement(sensor_id=2)])]))
    assert (result.upserted, result.modified, result.matched) == (1, 0, 1)
    assert page_size(older.path) == 4096 and older.count() == 2
