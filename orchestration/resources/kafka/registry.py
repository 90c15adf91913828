"""Reading the Confluent Schema Registry wire format: magic byte 0, the writer's 4-byte schema
id, then the JSON. Producers write it when `SCHEMA_REGISTRY_URL` is set (broker.py).

A record is accepted only when its schema id is registered and is the topic's contract: a
producer that registered another schema under the id (or none) is a contract breach, and the
record is dead-lettered with that reason rather than trusted.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from assets.core.codec import REGISTRY_MAGIC, REGISTRY_PREFIX
from assets.core.contracts import contract_for
from assets.core.stream import Record

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer

# The registry client is imported where a registry is used (~1 s): the local profile has none.


@cache
def _deserializer(topic: str, client: SchemaRegistryClient) -> JSONDeserializer:
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer

    return JSONDeserializer(json.dumps(contract_for(topic).schema), schema_registry_client=client)


@lru_cache(maxsize=1024)
def _is_contract(topic: str, schema_id: int, client: SchemaRegistryClient) -> bool:
    # Cached per id: a registered schema never changes under its id.
    return json.loads(client.get_schema(schema_id).schema_str) == contract_for(topic).schema


def decode_registered(record: Record, client: SchemaRegistryClient) -> tuple[dict | None, str | None]:
    """(value, None) for a framed record whose schema is the contract and whose value conforms."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

    raw = record.value
    if raw is None:
        return None, "empty value (tombstone)"
    if len(raw) < REGISTRY_PREFIX or raw[0] != REGISTRY_MAGIC:
        return None, "registry: bad magic byte (not the Schema Registry wire format)"
    schema_id = int.from_bytes(raw[1:REGISTRY_PREFIX], "big")
    try:
        if not _is_contract(record.topic, schema_id, client):
            return None, f"registry: schema id {schema_id} is not the contract of {record.topic}"
    except SchemaRegistryError:
        return None, f"registry: unknown schema id {schema_id}"
    try:
        value = _deserializer(record.topic, client)(raw, SerializationContext(record.topic, MessageField.VALUE))
    except (SerializationError, ValueError) as error:
        return None, f"registry: {error}"
    reason = contract_for(record.topic).error(value)
    return (value, None) if reason is None else (None, reason)
