"""A code location for tests/orchestration/test_pools.py and test_dead_runs.py: one step in each
of the platform's pools (`spark`, as the Spark clean steps are; `warehouse`, as the dbt step is),
that records when it ran and keeps its slot until the test lets it go. No Spark and no dbt, so
the daemon, the webserver and every run load it fast."""

import os
import time
from pathlib import Path

import dagster as dg

days = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-12-01", timezone="UTC")


def hold_the_slot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    probe_dir = Path(os.environ["POOL_PROBE_DIR"])
    started = time.time()
    (probe_dir / f"{context.run_id}.started").write_text(repr(started))
    # Held until the test has seen what it waits for (another run waiting, a kill).
    while not (probe_dir / "release").exists():
        time.sleep(0.1)
    finished = time.time()
    (probe_dir / f"{context.run_id}.finished").write_text(repr(finished))
    return dg.MaterializeResult(metadata={"started": started, "finished": finished})


@dg.asset(partitions_def=days, pool="spark")
def spark_probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return hold_the_slot(context)


@dg.asset(partitions_def=days, pool="warehouse")
def warehouse_probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return hold_the_slot(context)


defs = dg.Definitions(assets=[spark_probe, warehouse_probe], executor=dg.in_process_executor)
