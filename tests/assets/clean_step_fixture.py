"""A small clean step built the way the platform's are (CleanStep -> clean_asset), for tests
that drive it through the lake IO manager, in process or in a subprocess that gets killed."""

import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
from pyspark.sql import functions as F

from assets.clean_zone import CleanStep, clean_asset
from assets.partitions import daily_partitions
from orchestration.resources.lake import LakeResource
from orchestration.resources.lake_io import LakeIOManager
from orchestration.resources.spark import SparkResource
from orchestration.resources.warehouse import DuckDBWarehouse

DAY = date(2026, 11, 20)
RAW = dg.AssetSpec(["raw", "t"], partitions_def=daily_partitions).with_io_manager_key("lake_io_manager")


def flag(raw, day):
    reason = F.when(F.col("id") % 10 == 0, F.lit("bad"))
    return raw.withColumn("reason", reason).withColumn("measured_on", F.lit(day))


STEP = CleanStep(
    raw=("raw", "t"),
    clean=("clean", "t"),
    quarantine=("clean", "t_quarantine"),
    flag=flag,
    keep=lambda flagged: flagged.where("reason is null").select("id", "measured_on"),
    reject=lambda flagged, day: flagged.where("reason is not null").select(
        "id", "reason", F.lit(day).alias("partition_day")
    ),
    partition_column="measured_on",
    clean_key=("id",),
    quarantine_key=("id",),
)


def resources(root: str) -> dict:
    lake, warehouse = LakeResource(root=root), DuckDBWarehouse(path=root + "/warehouse.duckdb")
    spark = SparkResource(start_server=True)  # the session's server (tests/conftest.py)
    return {"spark": spark, "lake_io_manager": LakeIOManager(lake=lake, warehouse=warehouse)}


def land_raw(root: str, rows: int) -> None:
    batch = pa.RecordBatch.from_pydict({"id": pa.array(range(rows), pa.int64())})
    LakeResource(root=root).write_partition("raw", "t", DAY, batch.schema, [batch])


def clean(root: str, step: CleanStep = STEP) -> dg.ExecuteInProcessResult:
    asset = clean_asset(step, "clean_t", "test", ("t", "t rejected"))
    return dg.materialize([RAW, asset], resources=resources(root), partition_key=DAY.isoformat(), raise_on_error=False)


def stalling(marker: Path) -> CleanStep:
    """STEP whose clean write blocks on row 501 (after telling the test) until it is killed.

    The UDF runs in a Python worker of the Spark Connect server, not in the killed client: the
    server interrupts the orphaned write after its detached timeout (orchestration/spark_server.py),
    which kills the worker; the sleep is bounded anyway, so a server that did not would get
    its task slot back."""

    @F.udf("long")
    def stall(n):
        if n == 501:
            marker.touch()
            time.sleep(300)
        return n

    return replace(STEP, keep=lambda flagged: STEP.keep(flagged).withColumn("id", stall("id")))


if __name__ == "__main__":  # root, marker: clean 100 raw rows, then start cleaning 1000 and stall
    root, marker = sys.argv[1], Path(sys.argv[2])
    land_raw(root, 100)
    assert clean(root).success
    land_raw(root, 1000)
    clean(root, stalling(marker))
