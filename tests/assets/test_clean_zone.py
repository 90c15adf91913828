"""A clean step writes through the lake IO manager: the run's days are written at once into a
hidden staging, then each day is moved into a staged version, loaded into the warehouse from
it and swapped in. Killed mid-write, it leaves the previous day visible and intact, in the lake
and in the warehouse, with nothing staged visible. A range gives each day exactly what
cleaning that day alone gives, with as many Spark queries as one day."""

import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import clean_step_fixture as fixture
import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from assets.clean_zone import clean_asset, read_range
from orchestration.resources.lake import LakeResource, retired_versions
from orchestration.resources.warehouse import DuckDBWarehouse
from spark.transforms.days import DAY as DAY_COLUMN
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
        # The kill lands inside the write: the run's staging exists beside the live version,
        # and no version but the live one and those an earlier swap retired.
        table_dir = tmp_path / "clean" / "t"
        live = os.readlink(table_dir / "day=2026-11-20")
        retired = retired_versions(table_dir)
        assert list(table_dir.glob(".staging-*")), "the kill did not land inside the write"
        assert {p.name for p in table_dir.glob(".day=*.v-*") if p.is_dir()} == {live, *retired}
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

    # The next run replaces the day (the 1000 raw rows); the killed run never made a version.
    assert fixture.clean(str(tmp_path)).success
    assert lake_ids(tmp_path, "t") == warehouse_ids(tmp_path, "t") == [i for i in range(1000) if i % 10]
    retired = retired_versions(table_dir)  # the replaced version, for the grace period
    versions = [p.name for p in table_dir.iterdir() if p.is_dir() and p.name.startswith(".day=2026-11-20.v-")]
    assert len([v for v in versions if v not in retired]) == 1 and len(retired) == 1


def test_day_counts_count_each_side_per_day_with_null_key_parts_equal(spark):
    from assets.clean_zone import day_counts

    first, second = date(2026, 11, 19), date(2026, 11, 20)
    rows = [
        # valid: keys (1, a) twice, (1, null) twice (one key: nulls compare equal), (2, a)
        (first, 1, "a", None, "p1"),
        (first, 1, "a", None, "p2"),
        (first, 1, None, None, "p3"),
        (first, 1, None, None, "p4"),
        (first, 2, "a", None, "p5"),
        # rejected, keyed by payload: p6 twice, a null payload twice (one key), p7
        (first, 3, "b", "bad", "p6"),
        (first, 3, "b", "worse", "p6"),
        (first, 4, "c", "bad", None),
        (first, 5, "c", "bad", None),
        (first, 6, "d", "bad", "p7"),
        # the next day: keys seen the day before count again, on their own day
        (second, 1, "a", None, "p1"),
        (second, 3, "b", "bad", "p6"),
    ]
    flagged = spark.createDataFrame(rows, "partition_day date, id long, part string, reason string, payload string")
    step = replace(fixture.STEP, clean_key=("id", "part"), quarantine_key=("payload",))
    valid, rejected = flagged.where("reason is null"), flagged.where("reason is not null")
    clean = valid.select("id", F.col("partition_day").alias("measured_on"))
    quarantined = rejected.select("id", "partition_day")

    counted = day_counts(flagged, clean, quarantined, step)

    figures = ("valid_rows", "valid_keys", "rejected_rows", "rejected_keys", "clean_rows", "quarantined_rows")
    assert {day: [c[k] for k in figures] for day, c in counted.items()} == {
        first: [5, 3, 5, 3, 5, 5],
        second: [1, 1, 1, 1, 1, 1],
    }
    assert counted[first]["quarantine_reasons"] == {"bad": 4, "worse": 1}
    assert counted[second]["quarantine_reasons"] == {"bad": 1}
    # The same figures as a distinct over each side, the way the dedupe sees them.
    assert (
        counted[first]["valid_keys"]
        == valid.where(f"partition_day = '{first}'").select("id", "part").distinct().count()
    )
    assert (
        counted[first]["rejected_keys"]
        == rejected.where(f"partition_day = '{first}'").select("payload").distinct().count()
    )


DAYS = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
RANGE = {"dagster/asset_partition_range_start": "2026-11-18", "dagster/asset_partition_range_end": "2026-11-20"}
# Folds duplicates within a day, as the platform's steps do, so the range shows it folds no
# further (spark/transforms/days.py).
DEDUPED = replace(fixture.STEP, keep=lambda flagged: fixture.STEP.keep(flagged.dropDuplicates([DAY_COLUMN, "id"])))


def land_days(root: Path, ids_by_day: dict) -> None:
    lake = LakeResource(root=str(root))
    for day, ids in ids_by_day.items():
        batch = pa.RecordBatch.from_pydict({"id": pa.array(ids, pa.int64())})
        lake.write_partition("raw", "t", day, batch.schema, [batch])


# Day 1: duplicates on both sides; day 2: the same ids (they count again on their day);
# day 3: nothing rejected (its quarantine day is empty, written as an empty day).
RAW_DAYS = {DAYS[0]: [*range(25), 3, 3, 10], DAYS[1]: [*range(25), 7], DAYS[2]: [1, 2, 3, 11]}


def outputs(result: dg.ExecuteInProcessResult) -> dict:
    """Each table's metadata for the run (per_day and rows_written, by table)."""
    found = {}
    for m in result.asset_materializations_for_node("clean_t"):
        table = m.asset_key.path[1]
        found.setdefault(table, {})["rows_written"] = m.metadata["rows_written"].value
        if "per_day" in m.metadata:
            found[table]["per_day"] = m.metadata["per_day"].value
    return found


def lake_rows(root: Path, table: str, day: date) -> list[tuple]:
    rows = pq.read_table(root / "clean" / table / f"day={day.isoformat()}").to_pylist()
    return sorted(tuple(sorted(r.items())) for r in rows)


def all_warehouse_rows(root: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return sorted(con.execute(f"select * from clean.{table}").fetchall())


def clean_range(root: Path, step=DEDUPED, **run) -> dg.ExecuteInProcessResult:
    asset = clean_asset(step, "clean_t", "test", ("t", "t rejected"))
    result = dg.materialize([fixture.RAW, asset], resources=fixture.resources(str(root)), **run)
    assert result.success
    return result


def test_a_range_gives_each_day_exactly_what_cleaning_it_alone_gives(spark, tmp_path):
    ranged, alone = tmp_path / "ranged", tmp_path / "alone"
    for root in (ranged, alone):
        land_days(root, RAW_DAYS)
    in_one_run = outputs(clean_range(ranged, tags=RANGE))
    day_by_day = [outputs(clean_range(alone, partition_key=day.isoformat())) for day in DAYS]

    for table in ("t", "t_quarantine"):
        assert in_one_run[table]["rows_written"] == {
            k: v for run in day_by_day for k, v in run[table]["rows_written"].items()
        }
        for day in DAYS:
            assert lake_rows(ranged, table, day) == lake_rows(alone, table, day)
        assert all_warehouse_rows(ranged, table) == all_warehouse_rows(alone, table)
    assert in_one_run["t"]["per_day"] == {k: v for run in day_by_day for k, v in run["t"]["per_day"].items()}
    # Not equal by being empty: the figures are the raw days' own.
    per_day = in_one_run["t"]["per_day"]
    assert [(d["raw_rows"], d["clean_rows"], d["quarantined_rows"], d["duplicates"]) for d in per_day.values()] == [
        (28, 22, 4, 3),
        (26, 22, 3, 1),
        (4, 4, 0, 0),
    ]
    assert in_one_run["t_quarantine"]["rows_written"] == {"2026-11-18": 4, "2026-11-19": 3, "2026-11-20": 0}
    assert lake_rows(ranged, "t_quarantine", DAYS[2]) == []
    assert not list((ranged / "clean" / "t").glob(".staging-*")), "the range's staging was left behind"


def spark_executions(monkeypatch) -> list:
    """Every query or command the Spark Connect client sends (each ExecutePlan request)."""
    from pyspark.sql.connect.client.core import SparkConnectClient

    sent, execute = [], SparkConnectClient._execute_and_fetch_as_iterator

    def counted(self, request, *args, **kwargs):
        sent.append(request.plan.WhichOneof("op_type"))
        return execute(self, request, *args, **kwargs)

    monkeypatch.setattr(SparkConnectClient, "_execute_and_fetch_as_iterator", counted)
    return sent


def test_a_range_is_cleaned_with_as_many_spark_queries_as_one_day(spark, tmp_path, monkeypatch):
    days = {date(2026, 11, 1) + timedelta(days=i): [*range(20), 5] for i in range(8)}
    land_days(tmp_path, days)
    sent = spark_executions(monkeypatch)
    clean_range(tmp_path, partition_key="2026-11-08")
    one_day = len(sent)
    sent.clear()
    eight_days = {
        "dagster/asset_partition_range_start": "2026-11-01",
        "dagster/asset_partition_range_end": "2026-11-08",
    }
    clean_range(tmp_path, tags=eight_days)
    # The flag, one query of every figure, one write per table: the same for 8 days as for 1.
    assert one_day > 0 and len(sent) == one_day


def test_a_range_is_read_in_one_read_each_row_stamped_with_its_own_day(spark, tmp_path):
    """The range's raw days read at once: each row carries the day of the directory its file is
    in (versions included: the lake hands readers a day's pinned version), and a column that a
    later day added is null on the days before it, as a read of each day by name gave."""
    lake = LakeResource(root=str(tmp_path))
    first, second, third = date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)
    lake.write_file(
        "raw",
        "events",
        first,
        "a",
        pa.schema([("id", pa.int64())]),
        [pa.record_batch([pa.array([1, 2])], names=["id"])],
    )
    with_note = pa.schema([("id", pa.int64()), ("note", pa.string())])
    lake.write_file(
        "raw", "events", second, "a", with_note, [pa.record_batch([pa.array([3]), pa.array(["x"])], schema=with_note)]
    )
    lake.write_file(
        "raw",
        "events",
        third,
        "a",
        with_note,
        [pa.record_batch([pa.array([4, 5, 6]), pa.array(["y", None, "z"])], schema=with_note)],
    )
    raw = lake.read_days("raw", "events", [first, second, third])

    rows = read_range(spark, raw, [first, second, third]).select(DAY_COLUMN, "id", "note").orderBy("id").collect()

    assert [tuple(r) for r in rows] == [
        (first, 1, None),
        (first, 2, None),
        (second, 3, "x"),
        (third, 4, "y"),
        (third, 5, None),
        (third, 6, "z"),
    ]
