"""The lake IO manager: the asset key is the address, a single-run backfill hands over one
frame per day, each day is replaced in the lake and the warehouse, and readers get LakeDays.
A writer killed between the warehouse commit and the lake swap leaves a day the check names
and the next write of the table reloads from the lake."""

import json
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import lake_gap_fixture as gap
import pyarrow as pa
import pytest

from assets.core.lake_days import LakeDays
from assets.lake_io import LAKE_IO, lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from orchestration.resources import lake as lake_module
from orchestration.resources.lake import LakeResource
from orchestration.resources.lake_io import LakeIOManager
from orchestration.resources.warehouse import DuckDBWarehouse, PostgresWarehouse

GAP_SCRIPT = Path(gap.__file__)
REPO = GAP_SCRIPT.parents[2]

RANGE = {"dagster/asset_partition_range_start": "2026-11-19", "dagster/asset_partition_range_end": "2026-11-20"}
DAYS = [date(2026, 11, 19), date(2026, 11, 20)]


@dg.asset(
    key=["clean", "counted"],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    io_manager_key=LAKE_IO,
    metadata={"partition_column": "counted_on"},
)
def counted(context: dg.AssetExecutionContext) -> dict:
    # Day i of the run holds i rows, so a day written under another day's name would show.
    return {
        day: pa.table({"counted_on": [day] * i, "n": list(range(i))})
        for i, day in enumerate(partition_days(context), 1)
    }


@dg.asset(
    key=["serving", "seen"],
    ins={"rows": lake_input(["clean", "counted"])},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def seen(rows: LakeDays) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": {day.isoformat(): rows.rows(day) for day in rows.days}})


def resources(tmp_path) -> dict:
    lake = LakeResource(root=str(tmp_path))
    return {LAKE_IO: LakeIOManager(lake=lake, warehouse=DuckDBWarehouse(path=str(tmp_path / "w.duckdb")))}


def warehouse_days(tmp_path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute("select counted_on, count(*) from clean.counted group by 1 order by 1").fetchall()


def test_a_backfill_replaces_each_day_in_the_lake_and_the_warehouse(tmp_path):
    for _ in range(2):  # the re-run replaces, never adds
        result = dg.materialize([counted, seen], resources=resources(tmp_path), tags=RANGE)
        assert result.success
    assert warehouse_days(tmp_path) == [(DAYS[0], 1), (DAYS[1], 2)]
    lake = LakeResource(root=str(tmp_path)).read_days("clean", "counted", DAYS)
    assert [lake.rows(day) for day in DAYS] == [1, 2]
    assert lake.read(DAYS[1])["counted_on"].to_pylist() == [DAYS[1]] * 2
    # One materialization per day, each with the run's figures.
    written = result.asset_materializations_for_node("clean__counted")
    assert sorted(m.partition for m in written) == ["2026-11-19", "2026-11-20"]
    assert all(m.metadata["rows_written"].value == {"2026-11-19": 1, "2026-11-20": 2} for m in written)
    read = result.asset_materializations_for_node("serving__seen")
    assert all(m.metadata["rows"].value == {"2026-11-19": 1, "2026-11-20": 2} for m in read)


def test_an_output_without_every_day_fails_and_writes_nothing(tmp_path):
    @dg.asset(
        key=["clean", "counted"], partitions_def=daily_partitions, backfill_policy=single_run, io_manager_key=LAKE_IO
    )
    def short(context: dg.AssetExecutionContext) -> dict:
        return {DAYS[0]: pa.table({"n": [1]})}

    result = dg.materialize([short], resources=resources(tmp_path), tags=RANGE, raise_on_error=False)
    assert not result.success
    assert "expected one frame per day" in str(result.failure_data_for_node("clean__counted").error)
    assert not (tmp_path / "clean" / "counted").exists()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_spec(request, tmp_path) -> str:
    if request.param == "duckdb":
        return str(tmp_path / "w.duckdb")
    db = request.getfixturevalue("postgres_db")
    with PostgresWarehouse(**db)._connect() as conn, conn.cursor() as cur:  # the database is per session
        cur.execute("drop schema if exists clean cascade")
    return json.dumps(db)


def test_a_write_killed_between_the_warehouse_commit_and_the_lake_swap_is_named_then_repaired(warehouse_spec, tmp_path):
    root = str(tmp_path)
    step = subprocess.run(
        [sys.executable, str(GAP_SCRIPT), root, warehouse_spec],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert step.returncode == -signal.SIGKILL, step.stderr[-3000:]

    lake, warehouse = LakeResource(root=root), gap.warehouse(warehouse_spec)

    def lake_rows(day: date) -> list[int]:
        return sorted(lake.read_days(*gap.KEY, [day]).read(day)["n"].to_pylist())

    def warehouse_rows(day: date) -> list[int]:
        return sorted(n for (n,) in warehouse.query(f"select n from clean.gap where landed_on = '{day}'"))

    # The kill landed in the gap: the warehouse holds the killed write's 5 rows, stamped with its
    # staged version; the lake still holds the 3 rows before.
    live = lake.current_version(*gap.KEY, gap.DAY)
    [(day, stamp)] = warehouse.lake_versions(*gap.KEY).items()
    assert (day, lake_rows(gap.DAY), warehouse_rows(gap.DAY)) == (gap.DAY, [0, 1, 2], [0, 1, 2, 3, 4])
    assert stamp != live and (tmp_path / "clean" / "gap" / stamp).is_dir()

    found = gap.check(root, warehouse_spec)
    assert not found.passed
    assert found.description == "the warehouse differs from the lake on 2026-11-20"
    assert found.metadata["disagreeing_days"].value == ["2026-11-20"]
    assert found.metadata["versions"].value == {"2026-11-20": {"warehouse": stamp, "lake": live}}

    # The next write of the table, of another day, reloads the day from the lake's version.
    result = gap.write(root, warehouse_spec, 1, gap.OTHER_DAY)
    [written] = result.asset_materializations_for_node("clean__gap")
    assert written.metadata["reloaded_from_lake"].value == ["2026-11-20"]
    assert warehouse_rows(gap.DAY) == lake_rows(gap.DAY) == [0, 1, 2]
    assert warehouse_rows(gap.OTHER_DAY) == lake_rows(gap.OTHER_DAY) == [0]
    other = lake.current_version(*gap.KEY, gap.OTHER_DAY)
    assert warehouse.lake_versions(*gap.KEY) == {gap.DAY: live, gap.OTHER_DAY: other}
    assert gap.check(root, warehouse_spec).passed
    assert LakeIOManager(lake=lake, warehouse=warehouse).repair("clean", "gap", "landed_on") == []


def test_a_first_write_that_never_swapped_is_emptied_from_the_warehouse(tmp_path, monkeypatch):
    """The lake has no such day: the warehouse copy of it is deleted, with its stamp."""
    io = resources(tmp_path)[LAKE_IO]

    def no_swap(version, final):
        raise RuntimeError("stopped before the swap")

    monkeypatch.setattr(lake_module, "_swap_in", no_swap)
    with pytest.raises(RuntimeError, match="before the swap"):
        io.replace_day("clean", "counted", DAYS[1], pa.table({"counted_on": [DAYS[1]] * 2}), "counted_on")
    assert warehouse_days(tmp_path) == [(DAYS[1], 2)]
    assert io.lake.current_version("clean", "counted", DAYS[1]) is None

    assert io.repair("clean", "counted", "counted_on") == [DAYS[1]]
    assert warehouse_days(tmp_path) == []
    assert io.warehouse.lake_versions("clean", "counted") == {}
