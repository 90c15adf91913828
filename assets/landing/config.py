"""What a landing run is asked to land: the offset ranges its topic sensor named, or nothing
(CLI, schedule, UI), which means every message of the partition days."""

import dagster as dg

from assets.core.stream import OffsetRange


class OffsetRangeConfig(dg.Config):
    partition: int
    start: int
    end: int


class LandingConfig(dg.Config):
    """Ranges to land (set by the topic sensor); empty means the whole partition day."""

    ranges: list[OffsetRangeConfig] = []


def ranges_from_config(topic: str, config: LandingConfig) -> list[OffsetRange]:
    return [OffsetRange(topic, r.partition, r.start, r.end) for r in config.ranges]
