"""The topic log: Kafka (any Kafka-protocol broker) or an embedded SQLite stand-in, one interface."""

from orchestration.resources.kafka.broker import KafkaResource, registry_client
from orchestration.resources.kafka.contracts import (
    Contract,
    contract_for,
    contracts,
    schema_version,
    validate,
)
from orchestration.resources.kafka.embedded import EmbeddedTopicLogResource
from orchestration.resources.kafka.log import (
    KafkaUnavailable,
    OffsetRange,
    OutgoingMessage,
    ProduceResult,
    Record,
    TopicLog,
    decode,
    dlq_topic,
    partition_for,
    split_ranges,
)

__all__ = [
    "Contract",
    "EmbeddedTopicLogResource",
    "KafkaResource",
    "KafkaUnavailable",
    "OffsetRange",
    "OutgoingMessage",
    "ProduceResult",
    "Record",
    "TopicLog",
    "contract_for",
    "contracts",
    "decode",
    "dlq_topic",
    "partition_for",
    "registry_client",
    "schema_version",
    "split_ranges",
    "validate",
]
