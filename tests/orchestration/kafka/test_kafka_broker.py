"""KafkaResource against a real Kafka-protocol broker (Tansu): its faults, its failure modes."""

import json
import socket
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from orchestration.resources.kafka import (
    KafkaResource,
    KafkaUnavailable,
    OffsetRange,
    TopicMessage,
    contract_for,
    decode,
)

T = "openaq.measurements"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def reported_watermarks(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1] for p in range(3)
        }
    finally:
        consumer.close()


def test_end_offsets_correct_tansus_wrong_watermark(kafka, tansu):
    kafka.ensure_topic(T)
    # A plain producer that batches (linger), so record batches hold many messages each.
    producer = Producer({"bootstrap.servers": tansu, "linger.ms": 50})
    body = json.dumps({"location_id": 1, "sensor_id": 1, "fetched_at": "2026-11-20T00:00:00Z", "measurement": {}})
    for _i in range(3):
        for n in range(100):
            producer.produce(T, key=str(n), value=body)
        assert producer.flush(5) == 0
    exact = kafka.end_offsets(T)
    assert sum(exact.values()) == 300
    reported = reported_watermarks(tansu, T)
    # If this fails, Tansu reports the watermark right now and this test no longer proves the fix.
    assert any(reported[p] < exact[p] for p in exact), (reported, exact)
    assert kafka.topic_size(T) == 300
    last = {p: kafka.read_range(OffsetRange(T, p, end - 1, end))[0].offset for p, end in exact.items() if end}
    assert last == {p: end - 1 for p, end in exact.items() if end}


def test_ensure_topic_creates_topic_and_dlq_with_partitions_and_retention(kafka, tansu):
    kafka.ensure_topic(T)
    kafka.ensure_topic(T)  # idempotent
    admin = AdminClient({"bootstrap.servers": tansu})
    topics = admin.list_topics(timeout=5).topics
    assert {name: len(topics[name].partitions) for name in (T, f"{T}.dlq")} == {T: 3, f"{T}.dlq": 3}
    (future,) = admin.describe_configs([ConfigResource("topic", T)]).values()
    assert future.result(timeout=5)["retention.ms"].value == str(7 * 24 * 3600 * 1000)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize(
    "call",
    [
        lambda log: log.end_offsets(T),
        lambda log: log.committed("g", T),
        lambda log: log.read_range(OffsetRange(T, 0, 0, 5)),
        lambda log: log.commit("g", OffsetRange(T, 0, 0, 5)),
        lambda log: log.produce(T, [], source="openaq"),
    ],
    ids=["end_offsets", "committed", "read_range", "commit", "produce"],
)
def test_a_broker_that_is_down_raises_kafka_unavailable_fast(call):
    # "Down" is detected from librdkafka's error callback, not by waiting the whole timeout, so a
    # sensor tick skips within seconds. The timeout is the longest librdkafka accepts: the verdict
    # in the error says which way it was reached, and no clock is read.
    log = KafkaResource(bootstrap_servers=f"127.0.0.1:{closed_port()}", timeout_seconds=300)
    with pytest.raises(KafkaUnavailable, match="_ALL_BROKERS_DOWN") as raised:
        call(log)
    assert "Connection refused" in str(raised.value)  # the detail an operator needs, kept


def user(uuid: str, **overrides) -> dict:
    login = {"uuid": uuid, "username": "u"}
    return {
        "fetched_at": "2026-11-21T00:05:00Z",
        "user": {
            "login": login,
            "dob": {"date": "1993-07-20T09:44:18.674Z", "age": 33},
            "registered": {"date": "2002-05-21T10:59:49.966Z", "age": 24},
            **overrides,
        },
    }


def test_schema_registry_round_trip_and_refusal(kafka):
    pytest.importorskip(
        "confluent_kafka.schema_registry.json_schema",
        reason="the Schema Registry client needs confluent-kafka[schemaregistry]"
        " (authlib, httpx, cachetools): not in the project's dependencies yet",
    )
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

    from orchestration.resources.kafka import registry_client

    topic, url = "randomuser.users", "mock://airstream-tests"
    log = KafkaResource(bootstrap_servers=kafka.bootstrap_servers, timeout_seconds=5, schema_registry_url=url)
    value = user("155e77ee-ba6d-486f-95ce-0e0c0fb4b919", nat="BR")
    result = log.produce(
        topic,
        [TopicMessage(value["user"]["login"]["uuid"], value, DAY), TopicMessage("bad", user("not-a-uuid"), DAY)],
        source="randomuser",
    )
    assert (result.produced, result.dead_lettered) == (1, 1)

    ((partition, (offset, _)),) = result.offsets.items()
    (record,) = log.read_range(OffsetRange(topic, partition, offset, offset + 1))
    assert record.value[0] == 0  # Confluent wire format: magic byte + schema id, then the JSON
    schema = json.dumps(contract_for(topic).schema)
    deserialize = JSONDeserializer(schema, schema_registry_client=registry_client(url))
    assert deserialize(record.value, SerializationContext(topic, MessageField.VALUE)) == value
    assert decode(record, contract_for(topic)) == (value, None)
    assert registry_client(url).get_latest_version(f"{topic}-value").schema_id is not None

    with pytest.raises(SerializationError):
        log.value_serializer(topic)(user("not-a-uuid"))
    assert log.value_serializer(topic)(value)[0] == 0
    assert kafka.value_serializer(topic) is None  # no registry configured: plain JSON
