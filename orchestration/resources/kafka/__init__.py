"""The topic log: Kafka (any Kafka-protocol broker) or an embedded SQLite stand-in, one interface
(`assets.core.stream.TopicLog`); the message types and contracts are the core's."""

from assets.core.codec import decode
from assets.core.contracts import Contract, contract_for, contracts, schema_version
from assets.core.stream import OffsetRange, ProduceResult, Record, TopicLog, TopicMessage, dlq_topic
from orchestration.resources.kafka.broker import KafkaResource, registry_client
from orchestration.resources.kafka.embedded import EmbeddedTopicLogResource
from orchestration.resources.kafka.log import KafkaUnavailable, partition_for, split_ranges

__all__ = [
    "Contract",
    "EmbeddedTopicLogResource",
    "KafkaResource",
    "KafkaUnavailable",
    "OffsetRange",
    "ProduceResult",
    "Record",
    "TopicLog",
    "TopicMessage",
    "contract_for",
    "contracts",
    "decode",
    "dlq_topic",
    "partition_for",
    "registry_client",
    "schema_version",
    "split_ranges",
]
