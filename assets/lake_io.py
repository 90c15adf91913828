"""How an asset addresses the lake: by its asset key (`[zone, table]`), through the lake IO
manager that the code location binds under LAKE_IO (orchestration/resources/lake_io.py)."""

from collections.abc import Sequence

import dagster as dg

LAKE_IO = "lake_io_manager"


def lake_input(key: Sequence[str]) -> dg.AssetIn:
    """An input read from the lake as `LakeDays`, whoever wrote the upstream table (the landing
    merges blocks itself; other tables come through this IO manager)."""
    return dg.AssetIn(key=list(key), input_manager_key=LAKE_IO)
