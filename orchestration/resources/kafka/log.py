"""What the two topic logs share beyond the core's vocabulary (assets/core/stream.py): the
partitioner, the unavailable-broker error and the sensor's cut of new offsets into ranges.

`KafkaResource` (any Kafka-protocol broker) and `EmbeddedTopicLogResource` (one SQLite file for
the local profile) both satisfy `assets.core.stream.TopicLog`; sensors and assets depend on that alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from assets.core.stream import OffsetRange


class KafkaUnavailable(Exception):
    """The broker did not answer in time; a sensor turns this into a SkipReason."""


def partition_for(key: str, partitions: int) -> int:
    # librdkafka's default partitioner (consistent_random) is CRC-32 of the key, so the embedded
    # log puts every key in the partition a Kafka producer from this repo would.
    return zlib.crc32(key.encode("utf-8")) % partitions


def split_ranges(
    topic: str, start_offsets: Mapping[int, int], end_offsets: Mapping[int, int], max_batch: int
) -> list[OffsetRange]:
    """New ranges from the committed/cursor offsets up to the end offsets, at most `max_batch`
    messages each. A partition missing from `start_offsets` starts at 0; a start beyond the end
    (the topic was recreated) yields nothing rather than a range that can never be read."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    ranges = []
    for partition in sorted(end_offsets):
        start, end = start_offsets.get(partition, 0), end_offsets[partition]
        for lower in range(start, end, max_batch):
            ranges.append(OffsetRange(topic, partition, lower, min(lower + max_batch, end)))
    return ranges
