"""The landing of the Kafka topics in the lake's raw zone: a day passes each module once, in order.

`config` (what a run is asked to land) -> `ranges` (which offsets to read, cut into blocks) ->
`legacy` (a day of the layout before blocks is refused) -> `decode` (a block's records decoded
and validated into raw rows and rejects) -> `write` (rows merged into the day's offset blocks
through the lake's versioned swap, rejects recorded and dead-lettered once) -> `held` (rows of
days that are not partitions yet) -> `day` (one day: the steps in order) -> `asset` (the
Dagster asset of a topic, every topic's from one factory). A module imports only the modules
before it (tests/assets/test_core_is_pure.py).
"""

import importlib

__all__ = ["land_day", "landing_asset"]


def __getattr__(name: str):
    # The asset is imported when it is asked for, so the steps before it import without Dagster
    # (the raw row schemas in the Spark tests, the holding area in the exporter).
    if name in __all__:
        return getattr(importlib.import_module("assets.landing.asset"), name)
    raise AttributeError(f"module 'assets.landing' has no attribute {name!r}")
