"""Loading a day's clean partition into both warehouses: replace, never add."""

import threading
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.resources.warehouse import DuckDBWarehouse, PostgresWarehouse
from tests.waiting import wait_until

D1, D2 = date(2026, 11, 19), date(2026, 11, 20)


def write_day(directory, day, values):
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    table = pa.table(
        {
            "sensor_id": pa.array(range(len(values)), pa.int64()),
            "units": pa.array(["µg/m³", "", None][: len(values)] + ["ppm"] * max(0, len(values) - 3)),
            "value": pa.array(values, pa.float64()),
            "measured_on": pa.array([day] * len(values), pa.date32()),
        }
    )
    pq.write_table(table, directory / "part-0.parquet")
    return directory


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    warehouse = PostgresWarehouse(**request.getfixturevalue("postgres_db"))
    with warehouse._connect() as conn, conn.cursor() as cur:  # the database is per session
        cur.execute("drop schema if exists clean cascade")
    return warehouse


def test_replacing_a_day_is_idempotent_and_leaves_other_days_alone(warehouse, tmp_path):
    d1 = write_day(tmp_path / "d1", D1, [1.0, 2.0, 3.0])
    d2 = write_day(tmp_path / "d2", D2, [4.0, 5.0])
    assert warehouse.replace_partition("clean", "m", "measured_on", D1, d1) == 3
    assert warehouse.replace_partition("clean", "m", "measured_on", D2, d2) == 2
    assert warehouse.replace_partition("clean", "m", "measured_on", D1, d1) == 3
    counts = warehouse.query("select measured_on, count(*) from clean.m group by 1 order by 1")
    assert [(d, n) for d, n in counts] == [(D1, 3), (D2, 2)]

    # A day that shrank upstream shrinks here too.
    write_day(d1, D1, [9.0])
    assert warehouse.replace_partition("clean", "m", "measured_on", D1, d1) == 1
    assert warehouse.query("select value from clean.m where measured_on = '2026-11-19'") == [(9.0,)]


def test_nulls_and_empty_strings_survive_the_load(warehouse, tmp_path):
    d1 = write_day(tmp_path / "d1", D1, [1.0, 2.0, 3.0])
    warehouse.replace_partition("clean", "m", "measured_on", D1, d1)
    rows = warehouse.query("select sensor_id, units from clean.m order by sensor_id")
    assert rows == [(0, "µg/m³"), (1, ""), (2, None)]


def test_a_day_with_no_files_empties_that_day(warehouse, tmp_path):
    d1 = write_day(tmp_path / "d1", D1, [1.0])
    warehouse.replace_partition("clean", "m", "measured_on", D1, d1)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert warehouse.replace_partition("clean", "m", "measured_on", D1, empty) == 0
    assert warehouse.query("select count(*) from clean.m") == [(0,)]


def _waiting_backends(cur, dbname) -> int:
    # pg_locks, not pg_stat_activity: the latter can report a new backend late.
    cur.execute(
        "select count(distinct l.pid) from pg_locks l join pg_database d on d.oid = l.database"
        " where not l.granted and d.datname = %s",
        [dbname],
    )
    return cur.fetchone()[0]


def test_two_overlapping_replaces_of_one_day_leave_exactly_that_day_on_postgres(postgres_db, tmp_path):
    """READ COMMITTED alone lets the second DELETE miss the first's inserts: 100 rows became 200.

    The test holds a SHARE lock on the table (it blocks every DELETE but no reader) until both
    replaces are waiting inside the server, so the two transactions overlap on every run.
    """
    import psycopg2

    warehouse = PostgresWarehouse(**postgres_db)
    with warehouse._connect() as conn, conn.cursor() as cur:
        cur.execute("drop schema if exists clean cascade")
    day = write_day(tmp_path / "d1", D1, [float(v) for v in range(100)])
    assert warehouse.replace_partition("clean", "m", "measured_on", D1, day) == 100

    gate = psycopg2.connect(**postgres_db)
    results, errors = [], []
    try:
        with gate.cursor() as cur:
            cur.execute("lock table clean.m in share mode")

            def replace():
                try:
                    results.append(warehouse.replace_partition("clean", "m", "measured_on", D1, day))
                except Exception as error:  # noqa: BLE001 - reported by the assertion below
                    errors.append(error)

            threads = [threading.Thread(target=replace) for _ in range(2)]
            for thread in threads:
                thread.start()
            with psycopg2.connect(**postgres_db) as watcher, watcher.cursor() as watch:
                watcher.autocommit = True
                both = lambda: _waiting_backends(watch, postgres_db["dbname"]) >= 2  # noqa: E731
                wait_until("two replaces waiting at the server", both, interval=0.05)
        gate.rollback()
        for thread in threads:
            thread.join()
    finally:
        gate.close()
    assert errors == []
    assert results == [100, 100]
    assert warehouse.query("select count(*), count(distinct sensor_id) from clean.m") == [(100, 100)]
