"""The exporter's prod path for topics: a real Kafka-protocol broker (Tansu), offsets
produced and committed by the platform's own KafkaResource, lag and DLQ read back."""

from datetime import UTC, datetime

import dagster as dg
from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from assets.core.stream import OffsetRange, Record
from assets.topics import LANDING_GROUP, OPENAQ_TOPIC
from orchestration.resources.kafka import KafkaResource
from orchestration.serving.exporter import PlatformCollector
from orchestration.serving.settings import ServingSettings
from tests.orchestration.kafka.conftest import measurement, reset_topics


def samples(collector, name: str) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.labels.get("topic") or s.labels.get("source"), s.labels.get("partition")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_end_offsets_lag_and_dlq_from_kafka(tansu, tmp_path, monkeypatch):
    reset_topics(tansu)
    kafka = KafkaResource(bootstrap_servers=tansu, timeout_seconds=5)
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    produced = kafka.produce(OPENAQ_TOPIC, [measurement(i, at) for i in range(12)], source="test")
    written = {p: last - first + 1 for p, (first, last) in produced.offsets.items()}
    assert sum(written.values()) == 12
    busiest = max(written, key=written.get)
    kafka.commit(LANDING_GROUP, OffsetRange(OPENAQ_TOPIC, busiest, 0, 2))
    kafka.dead_letter(Record(OPENAQ_TOPIC, -1, -1, "x", b"{not json", {}, int(at.timestamp() * 1000)), "test")
    kafka.teardown_after_execution(None)

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", tansu)
    settings = ServingSettings(profile="prod", data_dir=tmp_path, pg_port=1)  # no warehouse here
    with dg.DagsterInstance.ephemeral() as instance:
        collector = PlatformCollector(settings, instance)
        ends = samples(collector, "airstream_topic_end_offset")
        lag = samples(collector, "airstream_consumer_lag")
        dlq = samples(collector, "airstream_dlq_messages")
        up = samples(collector, "airstream_exporter_source_up")
        collector.topics.teardown_after_execution(None)
    assert {p: int(v) for (t, p), v in ends.items() if t == OPENAQ_TOPIC} == {str(p): n for p, n in written.items()}
    assert {p: int(v) for (t, p), v in lag.items() if t == OPENAQ_TOPIC} == {
        str(p): n - (2 if p == busiest else 0) for p, n in written.items()
    }
    assert dlq[(OPENAQ_TOPIC, None)] == 1
    assert {source for (source, _), ok in up.items() if not ok} == {"warehouse"}  # not there
    assert {source for (source, _), ok in up.items() if ok} == {
        "dagster_assets",
        "dagster_checks",
        "dagster_runs",
        "lake",  # an empty lake holds no held message: read, and zero
        "topics",
    }
