"""The lake IO manager: the asset key is the address, a single-run backfill hands over one
frame per day, each day is replaced in the lake and the warehouse, and readers get LakeDays."""

from datetime import date

import dagster as dg
import duckdb
import pyarrow as pa

from assets.core.lake_days import LakeDays
from assets.lake_io import LAKE_IO, lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from orchestration.resources.lake import LakeResource
from orchestration.resources.lake_io import LakeIOManager
from orchestration.resources.warehouse import DuckDBWarehouse

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
