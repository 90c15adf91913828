"""The landing of the Kafka topics in the lake's raw zone: a day passes each module once, in order.

`config` (what a run is asked to land) -> `ranges` (which offsets to read, cut into blocks) ->
`legacy` (a day of the layout before blocks is refused) -> `decode` (a block's records decoded
and validated into raw rows and rejects) -> `write` (rows merged into the day's offset blocks
through the lake's versioned swap, rejects recorded and dead-lettered once) -> `held` (rows of
days that are not partitions yet) -> `day` (one day: the steps in order) -> `asset` (the
Dagster asset of a topic, every topic's from one factory). A module imports only the modules
before it (tests/assets/test_core_is_pure.py).
"""

from assets.landing.asset import land_day, landing_asset, openaq_measurements_landing, randomuser_users_landing

__all__ = ["land_day", "landing_asset", "openaq_measurements_landing", "randomuser_users_landing"]
