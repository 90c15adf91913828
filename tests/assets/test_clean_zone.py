"""The clean zone's Spark write goes through the lake's staged swap: a clean step killed
mid-write leaves the previous day visible and intact, in the lake and in the warehouse."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date

import pyarrow.parquet as pq
from pyspark.sql import functions as F

from assets.clean_zone import publish
from orchestration.resources.lake import LakeResource
from orchestration.resources.warehouse import DuckDBWarehouse

DAY = date(2026, 11, 20)

# Publishes 100 rows, then starts publishing 1000 and blocks inside the write job (a UDF on
# one row waits forever) after telling the test, which then kills the process group.
KILLED_CLEAN_STEP = textwrap.dedent("""
    import sys, time
    from datetime import date
    from pathlib import Path
    from pyspark.sql import functions as F
    from assets.clean_zone import publish
    from orchestration.resources.lake import LakeResource
    from orchestration.resources.spark import SparkResource
    from orchestration.resources.warehouse import DuckDBWarehouse

    root, marker = sys.argv[1], Path(sys.argv[2])
    day = date(2026, 11, 20)
    lake, warehouse = LakeResource(root=root), DuckDBWarehouse(path=root + "/warehouse.duckdb")
    session = SparkResource(master="local[1]", shuffle_partitions=1, driver_memory="1g").get_session()

    def rows(n):
        return session.range(n).withColumn("measured_on", F.lit(day))

    publish(rows(100), lake, warehouse, "m", "measured_on", day)

    @F.udf("long")
    def stall(n):
        if n == 500:
            marker.touch()
            time.sleep(3600)
        return n

    publish(rows(1000).withColumn("id", stall("id")), lake, warehouse, "m", "measured_on", day)
""")


def test_a_clean_step_killed_mid_write_leaves_the_previous_day(spark, tmp_path):
    marker = tmp_path / "writing"
    step = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLEAN_STEP, str(tmp_path), str(marker)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert step.poll() is None, step.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the second write never started"
            time.sleep(0.1)
    finally:
        os.killpg(step.pid, signal.SIGKILL)  # the driver, its JVM and Spark's Python workers
        step.wait()

    lake = LakeResource(root=str(tmp_path))
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    day_dir = lake.partition_dir("clean", "m", DAY)
    assert sorted(pq.read_table(day_dir)["id"].to_pylist()) == list(range(100))
    assert spark.read.parquet(str(day_dir)).count() == 100
    assert warehouse.query("select count(*), count(distinct id) from clean.m") == [(100, 100)]

    # The next run replaces the day and clears the killed run's staged version.
    rows = spark.range(7).withColumn("measured_on", F.lit(DAY))
    assert publish(rows, lake, warehouse, "m", "measured_on", DAY) == 7
    assert spark.read.parquet(str(day_dir)).count() == 7
    assert [p.name.startswith(".day=2026-11-20.v-") for p in day_dir.parent.iterdir()].count(True) == 1
