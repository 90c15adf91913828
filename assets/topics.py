"""The Kafka topics as nodes of the lineage, between their producers and their consumers.

A topic is materialized by the pull that publishes to it (in the same step, so consumers
run after it) and observed by its sensor on every tick: end offsets, consumer lag, DLQ size.
"""

import dagster as dg

OPENAQ_TOPIC = "openaq.measurements"
USERS_TOPIC = "randomuser.users"
ADS_TOPIC = "ads.events"

# The consumer group whose committed offsets the lag is measured against.
LANDING_GROUP = "airstream-landing"


def topic_key(topic: str) -> dg.AssetKey:
    return dg.AssetKey(["kafka", topic.replace(".", "_")])


def topic_spec(topic: str, producer: dg.AssetKey, group: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        topic_key(topic),
        deps=[producer],
        description=f"Kafka topic `{topic}`: {description}",
        group_name=group,
        kinds={"kafka"},
        metadata={"topic": topic},
    )
