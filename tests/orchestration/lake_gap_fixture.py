"""A table written through the lake IO manager, for tests that kill its writer between the
warehouse commit and the lake swap: run as a script, it writes the day twice and SIGKILLs
itself at the second swap."""

import json
import os
import signal
import sys
from datetime import date

import dagster as dg
import pyarrow as pa

from assets.lake_io import LAKE_IO
from assets.lake_warehouse import agreement_check
from assets.partitions import daily_partitions
from orchestration.resources import lake as lake_module
from orchestration.resources.lake import LakeResource
from orchestration.resources.lake_io import LakeIOManager
from orchestration.resources.warehouse import DuckDBWarehouse, PostgresWarehouse

DAY, OTHER_DAY = date(2026, 11, 20), date(2026, 11, 19)
KEY = ["clean", "gap"]
CHECK = agreement_check([dg.AssetKey(KEY)])


def table(rows: int) -> dg.AssetsDefinition:
    """`clean/gap` whose every day holds `rows` rows, n = 0 .. rows - 1."""

    @dg.asset(
        key=KEY, partitions_def=daily_partitions, io_manager_key=LAKE_IO, metadata={"partition_column": "landed_on"}
    )
    def gap(context: dg.AssetExecutionContext) -> dict:
        day = date.fromisoformat(context.partition_key)
        return {day: pa.table({"landed_on": [day] * rows, "n": list(range(rows))})}

    return gap


def warehouse(spec: str):
    """`spec`: a DuckDB file path, or the JSON connection parameters of a PostgreSQL database."""
    return PostgresWarehouse(**json.loads(spec)) if spec.startswith("{") else DuckDBWarehouse(path=spec)


def resources(root: str, spec: str) -> dict:
    lake, store = LakeResource(root=root), warehouse(spec)
    return {"lake": lake, "warehouse": store, LAKE_IO: LakeIOManager(lake=lake, warehouse=store)}


def write(root: str, spec: str, rows: int, day: date = DAY) -> dg.ExecuteInProcessResult:
    return dg.materialize([table(rows)], resources=resources(root, spec), partition_key=day.isoformat())


def check(root: str, spec: str) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [table(0), CHECK], resources=resources(root, spec), selection=dg.AssetSelection.checks(CHECK)
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def _killed_at_swap(version, final) -> None:
    # The warehouse has committed the staged version; the lake's link still names the old one.
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":  # root, warehouse spec: the day with 3 rows, then 5 rows killed in the gap
    root, spec = sys.argv[1], sys.argv[2]
    write(root, spec, 3)
    lake_module._swap_in = _killed_at_swap
    write(root, spec, 5)
    raise SystemExit("the second write was not killed")
