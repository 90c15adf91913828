"""A clean step writes through the lake IO manager: the day is staged, loaded into the
warehouse from the staged version, then swapped in. Killed mid-write, it leaves the previous
day visible and intact, in the lake and in the warehouse, with nothing staged visible."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import clean_step_fixture as fixture
import duckdb
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from orchestration.resources.lake import retired_versions
from orchestration.resources.warehouse import DuckDBWarehouse
from tests.waiting import wait_until

STEP_SCRIPT = Path(fixture.__file__)
REPO = STEP_SCRIPT.parents[2]


def warehouse_ids(root: Path, table: str) -> list[int]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return [r[0] for r in con.execute(f"select id from clean.{table} order by id").fetchall()]


def lake_ids(root: Path, table: str) -> list[int]:
    day_dir = root / "clean" / table / f"day={fixture.DAY.isoformat()}"
    return sorted(pq.read_table(day_dir)["id"].to_pylist())


def visible_ids(root: Path, table: str) -> list[int]:
    """What a reader of the whole table sees: hidden staged versions must not be part of it."""
    dataset = pa_ds.dataset(root / "clean" / table, format="parquet", partitioning="hive")
    return sorted(dataset.to_table(columns=["id"])["id"].to_pylist())


def test_a_clean_step_writes_both_tables_through_the_io_manager(spark, tmp_path):
    fixture.land_raw(str(tmp_path), 100)
    result = fixture.clean(str(tmp_path))
    assert result.success
    clean = [i for i in range(100) if i % 10]
    assert lake_ids(tmp_path, "t") == warehouse_ids(tmp_path, "t") == clean
    assert lake_ids(tmp_path, "t_quarantine") == warehouse_ids(tmp_path, "t_quarantine") == list(range(0, 100, 10))
    [materialization] = [
        m for m in result.asset_materializations_for_node("clean_t") if m.asset_key.path == ["clean", "t"]
    ]
    day = materialization.metadata["per_day"].value[fixture.DAY.isoformat()]
    assert (day["raw_rows"], day["clean_rows"], day["quarantined_rows"], day["duplicates"]) == (100, 90, 10, 0)
    assert materialization.metadata["rows_written"].value == {fixture.DAY.isoformat(): 90}


def test_a_clean_step_killed_mid_write_leaves_the_previous_day(spark, tmp_path):
    marker = tmp_path / "writing"
    step = subprocess.Popen(
        [sys.executable, str(STEP_SCRIPT), str(tmp_path), str(marker)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def second_write_started() -> bool:
            assert step.poll() is None, step.stderr.read()[-3000:]
            return marker.exists()

        wait_until("second write started", second_write_started, interval=0.1)
        # The kill lands inside the write: a staged version exists beside the live one (neither
        # the version the link names nor one retired by an earlier swap).
        table_dir = tmp_path / "clean" / "t"
        live = os.readlink(table_dir / "day=2026-11-20")
        retired = retired_versions(table_dir)
        staged = [p for p in table_dir.glob(".day=*.v-*") if p.is_dir() and p.name not in (live, *retired)]
        assert staged, "the kill did not land inside the write"
    finally:
        os.killpg(step.pid, signal.SIGKILL)  # the driver, its JVM and Spark's Python workers
        step.wait()

    first_run = [i for i in range(100) if i % 10]
    assert lake_ids(tmp_path, "t") == visible_ids(tmp_path, "t") == warehouse_ids(tmp_path, "t") == first_run
    assert spark.read.parquet(str(tmp_path / "clean" / "t")).count() == len(first_run)
    assert warehouse_ids(tmp_path, "t_quarantine") == list(range(0, 100, 10))
    # Killed before the warehouse commit: the warehouse is still stamped with the live version.
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    assert warehouse.lake_versions("clean", "t") == {fixture.DAY: live}

    # The next run replaces the day (the 1000 raw rows) and clears the killed run's staged version.
    assert fixture.clean(str(tmp_path)).success
    assert lake_ids(tmp_path, "t") == warehouse_ids(tmp_path, "t") == [i for i in range(1000) if i % 10]
    retired = retired_versions(table_dir)  # the replaced version and the killed run's, for the grace period
    versions = [p.name for p in table_dir.iterdir() if p.is_dir() and p.name.startswith(".day=2026-11-20.v-")]
    assert len([v for v in versions if v not in retired]) == 1 and len(retired) == 2


def test_rows_and_keys_count_each_side_with_null_key_parts_equal(spark):
    from assets.clean_zone import rows_and_keys

    rows = [
        # valid: keys (1, a) twice, (1, null) twice (one key: nulls compare equal), (2, a)
        (1, "a", None, "p1"),
        (1, "a", None, "p2"),
        (1, None, None, "p3"),
        (1, None, None, "p4"),
        (2, "a", None, "p5"),
        # rejected, keyed by payload: p6 twice, a null payload twice (one key), p7
        (3, "b", "bad", "p6"),
        (3, "b", "worse", "p6"),
        (4, "c", "bad", None),
        (5, "c", "bad", None),
        (6, "d", "bad", "p7"),
    ]
    flagged = spark.createDataFrame(rows, "id long, part string, reason string, payload string")

    counted = rows_and_keys(flagged, ("id", "part"), ("payload",))

    assert counted == {"valid_rows": 5, "valid_keys": 3, "rejected_rows": 5, "rejected_keys": 3}
    # The same figures as a distinct over each side, the way the dedupe sees them.
    valid, rejected = flagged.where("reason is null"), flagged.where("reason is not null")
    assert counted["valid_keys"] == valid.select("id", "part").distinct().count()
    assert counted["rejected_keys"] == rejected.select("payload").distinct().count()
