"""Fixtures of the sink tests: a real MongoDB-wire server, a fake Cassandra session, sample rows."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import pytest
from cassandra import ConsistencyLevel, WriteTimeout, WriteType


@pytest.fixture
def make_measurement():
    """A consumed OpenAQ v3 measurement document, as the Kafka landing asset hands it over."""

    def make(sensor_id=1, location_id=10, end="2026-11-20T01:00:00Z", value=12.5, parameter=(2, "pm25"), offset=0):
        return {
            "location_id": location_id,
            "sensor_id": sensor_id,
            "fetched_at": "2026-11-20T01:05:00+00:00",
            "measurement": {
                "value": value,
                "parameter": {"id": parameter[0], "name": parameter[1], "units": "µg/m³"},
                "period": {
                    "label": "raw",
                    "interval": "01:00:00",
                    "datetimeFrom": {"utc": "2026-11-20T00:00:00Z", "local": "2026-11-20T01:00:00+01:00"},
                    "datetimeTo": {"utc": end, "local": end},
                },
            },
            "kafka": {"topic": "openaq.measurements", "partition": 0, "offset": offset},
        }

    return make


@pytest.fixture
def make_user():
    """A row of the clean users contract (exactly its keys)."""

    def make(n=0, **changes):
        row = {
            "user_id": str(uuid.UUID(int=n + 1)),
            "gender": "female",
            "title": "Ms",
            "first_name": f"Ada{n}",
            "last_name": "Lovelace",
            "email": f"ada{n}@example.com",
            "username": f"ada{n}",
            "dob_utc": datetime(1990, 5, 17, 8, 30),
            "registered_utc": datetime(2015, 3, 2, 11, 0, 5),
            "phone": "01632 960000",
            "cell": "07700 900000",
            "nationality": "GB",
            "street_number": 12,
            "street_name": "Fleet Street",
            "city": "London",
            "state": "Greater London",
            "country": "United Kingdom",
            "postcode": "01234",
            "latitude": 51.5142,
            "longitude": -0.1077,
            "timezone_offset": "+0:00",
            "timezone_description": "London",
            "id_name": "NINO",
            "id_value": None,
            "picture_large": "https://x/l.jpg",
            "picture_medium": "https://x/m.jpg",
            "picture_thumbnail": "https://x/t.jpg",
            "ingested_on": date(2026, 11, 20),
            "ingested_at": datetime(2026, 11, 20, 9, 15, 0),
        }
        return {**row, **changes}

    return make


# What the real driver would accept for each CQL type (None is a null: allowed but on the key).
_CQL_PYTHON = {
    "uuid": (uuid.UUID,),
    "text": (str,),
    "timestamp": (datetime,),
    "date": (date,),
    "int": (int,),
    "double": (float, int),
}


class FakeFuture:
    """Enough of `cassandra.cluster.ResponseFuture` for `execute_concurrent`."""

    _col_names = _col_types = None

    def __init__(self):
        self._lock, self._outcome, self._callbacks = threading.Lock(), None, None

    def add_callbacks(self, callback, errback, callback_args=(), errback_args=()):
        with self._lock:
            self._callbacks = (callback, callback_args, errback, errback_args)
            outcome = self._outcome
        if outcome is not None:
            self._fire(*outcome)

    def clear_callbacks(self):
        pass

    def complete(self, ok, value):
        with self._lock:
            self._outcome = (ok, value)
            ready = self._callbacks is not None
        if ready:
            self._fire(ok, value)

    def _fire(self, ok, value):
        callback, callback_args, errback, errback_args = self._callbacks
        if ok:
            callback(value, *callback_args)
        else:
            errback(value, *errback_args)


class FakePrepared:
    def __init__(self, query_string):
        self.query_string, self.consistency_level = query_string, None


class FakeResult(list):
    def one(self):
        return self[0] if self else None


class FakeCassandraSession:
    """Records DDL, prepared CQL and bound values; keeps rows by primary key, latest timestamp wins.

    Bound values are type-checked against the table's declared CQL types, as the driver does
    when it binds; `fail_on(values_by_column)` makes the server answer a write with a timeout.
    """

    def __init__(self, fail_on=None, latency_seconds=0.002):
        self.executed, self.prepared, self.bound = [], [], []
        self.tables, self.rows, self._timestamps = {}, {}, {}
        self.in_flight = self.max_in_flight = 0
        self.fail_on, self.latency_seconds = fail_on, latency_seconds
        self._lock = threading.Lock()
        self._server = ThreadPoolExecutor(max_workers=16)  # more than any concurrency under test

    def execute(self, query, parameters=None):
        self.executed.append(query)
        created = re.match(r"CREATE TABLE IF NOT EXISTS (\w+\.\w+) \((.*), PRIMARY KEY \((\w+)\)\)$", query)
        if created:
            columns = dict(part.split() for part in created.group(2).split(", "))
            self.tables.setdefault(created.group(1), (columns, created.group(3)))
        if query.startswith("SELECT COUNT(*)"):
            return FakeResult([(len(self.rows),)])
        return FakeResult()

    def prepare(self, query):
        statement = FakePrepared(query)
        self.prepared.append(statement)
        return statement

    def execute_async(self, statement, parameters=None, execution_profile=None, **_):
        table, names = re.match(r"INSERT INTO (\w+\.\w+) \((.*)\) VALUES", statement.query_string).groups()
        columns, key = self.tables[table]
        values = dict(zip(names.split(", "), parameters, strict=True))
        for name, value in values.items():
            ok = value is not None or name != key
            if not ok or (value is not None and not isinstance(value, _CQL_PYTHON[columns[name]])):
                raise TypeError(f"cannot bind {value!r} to {name} {columns[name]}")  # as the driver does
        future = FakeFuture()
        with self._lock:
            self.bound.append((statement, tuple(parameters)))
            timestamp = len(self.bound)  # the driver's client-side timestamps follow submission
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._server.submit(self._answer, future, key, values, timestamp)
        return future

    def _answer(self, future, key, values, timestamp):
        time.sleep(self.latency_seconds)
        failed = self.fail_on is not None and self.fail_on(values)
        with self._lock:
            self.in_flight -= 1
            if not failed and timestamp > self._timestamps.get(values[key], 0):
                self.rows[values[key]], self._timestamps[values[key]] = values, timestamp
        if failed:
            error = WriteTimeout(
                "fake write timeout",
                consistency=ConsistencyLevel.LOCAL_QUORUM,
                write_type=WriteType.SIMPLE,
                required_responses=2,
                received_responses=1,
            )
            future.complete(False, error)
        else:
            future.complete(True, [])

    def shutdown(self):
        self._server.shutdown(wait=True)


@pytest.fixture
def fake_cassandra():
    session = FakeCassandraSession()
    yield session
    session.shutdown()
