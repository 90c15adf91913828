"""The dbt project end to end on DuckDB: partition windows, re-runs, tests and unit tests.

One module-scoped warehouse is built day by day the way Dagster runs partitions
(D1, then D2, then D1 again) with the real dbt CLI, and the output is read back with duckdb.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.dbt.rows import insert_duckdb
from tests.dbt.window import partition_window
from tests.waiting import WAIT_SECONDS

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
D1, D2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
UGM3 = "µg/m³"  # OpenAQ spells it with the MICRO SIGN U+00B5

# location_id -> (name on D1, name on D2, locality, timezone, country, country name, owner,
#                 provider, is_monitor, lat, lon)
LOCATIONS = {
    2178: (
        "Del Norte",
        "Del Norte HS",
        "Albuquerque",
        "America/Denver",
        "US",
        "United States",
        "Unknown Governmental Organization",
        "AirNow",
        True,
        35.1353,
        -106.5847,
    ),
    8118: (
        "London Marylebone Road",
        "London Marylebone Road",
        "London",
        "Europe/London",
        "GB",
        "United Kingdom",
        "DEFRA",
        "DEFRA",
        True,
        51.52253,
        -0.15461,
    ),
    9001: (
        "Iqaluit",
        "Iqaluit",
        None,
        "America/Iqaluit",
        "CA",
        "Canada",
        "Environment and Climate Change Canada",
        "AirGradient",
        False,
        63.7467,
        -68.5170,
    ),
}
# sensor_id -> (location_id, parameter_id, parameter_name, units, display name)
SENSORS = {
    3917: (2178, 2, "pm25", UGM3, "PM2.5"),
    3918: (2178, 2, "pm25", UGM3, "PM2.5"),  # a second PM2.5 sensor, every 10 minutes
    25010: (8118, 5, "no2", UGM3, "NO₂ mass"),
    25011: (8118, 7, "no2", "ppm", "NO₂"),
    40001: (9001, 100, "temperature", "c", "Temperature (C)"),
}
# (sensor_id, day) -> hourly values from 00:00 UTC. PM2.5 covers all 24 hours of D1 with a mean
# of 17 (above the WHO guideline of 15), including the 23:00-24:00 period, which ends on D2 but
# belongs to D1. Temperature is negative: value >= 0 must not apply to it.
VALUES = {
    (3917, D1): {h: 15.0 if h % 2 else 19.0 for h in range(24)},
    (3917, D2): {0: 8.0, 1: 10.0, 2: 12.0, 3: 9.0, 4: 11.0, 5: 10.0},
    (25010, D1): dict(enumerate([31.2, 35.0, 40.5, 38.1, 33.3, 29.8])),
    (25010, D2): dict(enumerate([28.0, 30.4, 32.2, 36.9, 34.0, 31.5])),
    (25011, D1): dict(enumerate([0.0163, 0.0183, 0.0212, 0.0199, 0.0174, 0.0156])),
    (25011, D2): dict(enumerate([0.0146, 0.0159, 0.0168, 0.0193, 0.0178, 0.0165])),
    (40001, D1): dict(enumerate([-3.5, -3.1, -2.4, -1.8, -1.2, -0.5])),
    (40001, D2): dict(enumerate([-1.0, -0.6, 0.0, 0.4, 1.1, 1.6])),
}
# (sensor_id, day) -> 10-minute values: sensor 3918 reports 20.0 from 00:00 to 18:00 on D2.
# With 3917's six hours (mean 10) the location's D2 hours are (v + 20) / 2 for hours 0-5 and
# 20 for hours 6-17: 18 hours covered, mean (90 + 240) / 18.
TEN_MINUTES = {(3918, D2): {m: 20.0 for m in range(0, 18 * 60, 10)}}
ROWS_D1 = sum(len(v) for (_, day), v in VALUES.items() if day == D1)
ROWS_D2 = sum(len(v) for (_, day), v in [*VALUES.items(), *TEN_MINUTES.items()] if day == D2)
AGG_ROWS_PER_DAY = len({(loc, parameter) for loc, parameter, *_ in SENSORS.values()})


def _create_sources(db_path: Path) -> None:
    """The three clean tables as the Spark step writes them."""
    ingested_at = dt.datetime(2024, 5, 3, 6, 0)
    measurements, locations, sensors = [], [], []
    periods = [(key, 60, {hour * 60: v for hour, v in values.items()}) for key, values in VALUES.items()]
    periods += [(key, 10, values) for key, values in TEN_MINUTES.items()]
    for (sensor_id, day), minutes, values in periods:
        location_id, parameter_id, parameter_name, units, _ = SENSORS[sensor_id]
        lat, lon = LOCATIONS[location_id][-2:]
        for minute, value in values.items():
            start = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
            hour = minute // 60
            measurements.append(
                (
                    sensor_id,
                    location_id,
                    parameter_id,
                    parameter_name,
                    units,
                    value,
                    start,
                    start + dt.timedelta(minutes=minutes),
                    day,
                    hour == 3,  # a flagged value
                    None if hour == 4 else 100.0,  # coverage is nullable
                    None if sensor_id == 40001 and hour == 5 else lat,
                    None if sensor_id == 40001 and hour == 5 else lon,
                    ingested_at,
                )
            )
    for day in (D1, D2):
        for location_id, (n1, n2, locality, tz, cc, country, owner, provider, monitor, lat, lon) in LOCATIONS.items():
            locations.append(
                (
                    location_id,
                    n1 if day == D1 else n2,
                    locality,
                    tz,
                    cc,
                    country,
                    owner,
                    provider,
                    False,
                    monitor,
                    lat,
                    lon,
                    dt.datetime(2016, 3, 1, 7),
                    ingested_at,
                    day,
                )
            )
        for sensor_id, (location_id, parameter_id, name, units, display) in SENSORS.items():
            sensors.append((sensor_id, location_id, f"{name} {units}", parameter_id, name, units, display, day))

    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema clean")
        con.execute("""
            create table clean.openaq_measurements (
                sensor_id bigint, location_id bigint, parameter_id bigint,
                parameter_name varchar, units varchar, value double,
                period_start_utc timestamp, period_end_utc timestamp, measured_on date,
                has_flags boolean, coverage_percent double, latitude double, longitude double,
                ingested_at timestamp)""")
        con.execute("""
            create table clean.openaq_locations (
                location_id bigint, location_name varchar, locality varchar, timezone varchar,
                country_code varchar, country_name varchar, owner_name varchar,
                provider_name varchar, is_mobile boolean, is_monitor boolean, latitude double,
                longitude double, first_seen_utc timestamp, last_seen_utc timestamp,
                snapshot_on date)""")
        con.execute("""
            create table clean.openaq_sensors (
                sensor_id bigint, location_id bigint, sensor_name varchar, parameter_id bigint,
                parameter_name varchar, units varchar, parameter_display_name varchar,
                snapshot_on date)""")
        insert_duckdb(con, "clean.openaq_measurements", measurements)
        insert_duckdb(con, "clean.openaq_locations", locations)
        insert_duckdb(con, "clean.openaq_sensors", sensors)
    finally:
        con.close()


@dataclass
class DbtRun:
    returncode: int
    output: str
    results: list[dict]
    seconds: float


def _dbt_build(data_dir: Path, day: dt.date) -> DbtRun:
    """`dbt build` for one partition day, as the orchestrator runs it."""
    exe = Path(sys.executable).with_name("dbt")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dbt.cli.main"]
    target_path = data_dir / "dbt_target"  # never dbt/target: other runs share the project
    cmd += [
        "build",
        "--target",
        "local",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(data_dir / "dbt_logs"),
        # The air-quality models only; the users and e-commerce models have their own test files.
        "--exclude",
        "stg_randomuser__users+",
        "path:models/staging/ecommerce",
        "path:models/marts/ecommerce",
        "path:seeds/ecommerce",
    ]
    env = {**os.environ, "DATA_DIR": str(data_dir), "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env |= partition_window(day)
    started = dt.datetime.now()
    # cwd outside the repository: a `dbt/` folder on sys.path must not shadow dbt-core.
    proc = subprocess.run(cmd, cwd=data_dir, env=env, capture_output=True, text=True, timeout=WAIT_SECONDS)
    seconds = (dt.datetime.now() - started).total_seconds()
    results_file = target_path / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    results_file.unlink(missing_ok=True)
    return DbtRun(proc.returncode, proc.stdout + proc.stderr, results, seconds)


def _query(data_dir: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _assert_succeeded(run: DbtRun) -> None:
    assert run.returncode == 0, run.output[-4000:]
    failed = [(r["unique_id"], r["status"]) for r in run.results if r["status"] not in ("success", "pass")]
    assert not failed, failed


FCT = "select * from marts.fct_measurements order by sensor_id, period_end_utc"
AGG = "select * from marts.agg_air_quality_daily order by location_id, parameter_id, measured_on"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build D1, then D2, then D1 again; keep what each step left in the marts."""
    data_dir = tmp_path_factory.mktemp("warehouse")
    _create_sources(data_dir / "warehouse.duckdb")
    steps = {}
    for name, day in (("d1", D1), ("d2", D2), ("d1_again", D1)):
        run = _dbt_build(data_dir, day)
        steps[name] = (run, _query(data_dir, FCT), _query(data_dir, AGG))
        if run.returncode != 0:
            break
    return data_dir, steps


def test_every_build_passes_all_tests_and_unit_tests(built):
    _, steps = built
    for run, _, _ in steps.values():
        _assert_succeeded(run)
        kinds = {r["unique_id"].split(".")[0] for r in run.results}
        assert kinds == {"model", "seed", "test", "unit_test"}
        print(f"dbt build: {run.seconds:.1f}s, {len(run.results)} nodes")
    assert list(steps) == ["d1", "d2", "d1_again"]


def test_marts_are_tables_in_marts_and_staging_views_in_staging(built):
    data_dir, _ = built
    tables = set(
        _query(
            data_dir,
            """
        select table_schema, table_name, table_type from information_schema.tables
        where table_schema in ('staging', 'marts')""",
        )
    )
    assert tables == {
        ("staging", "stg_openaq__measurements", "VIEW"),
        ("staging", "stg_openaq__locations", "VIEW"),
        ("staging", "stg_openaq__sensors", "VIEW"),
        *{
            ("marts", t, "BASE TABLE")
            for t in (
                "dim_locations",
                "dim_sensors",
                "dim_parameters",
                "dim_dates",
                "fct_measurements",
                "agg_air_quality_daily",
            )
        },
    }


def test_each_build_loads_only_its_window(built):
    _, steps = built
    _, fct_d1, agg_d1 = steps["d1"]
    _, fct_d2, agg_d2 = steps["d2"]
    assert len(fct_d1) == ROWS_D1 and {r[3] for r in fct_d1} == {D1}
    assert len(fct_d2) == ROWS_D1 + ROWS_D2
    assert (len(agg_d1), len(agg_d2)) == (AGG_ROWS_PER_DAY, 2 * AGG_ROWS_PER_DAY)


def test_rerunning_a_day_replaces_it(built):
    _, steps = built
    _, fct_d2, agg_d2 = steps["d2"]
    _, fct_again, agg_again = steps["d1_again"]
    assert fct_again == fct_d2
    assert agg_again == agg_d2


def test_period_ending_at_midnight_belongs_to_the_day_it_starts(built):
    data_dir, _ = built
    assert _query(
        data_dir,
        """
        select measured_on from marts.fct_measurements
        where sensor_id = 3917 and period_end_utc = '2024-05-02 00:00:00'""",
    ) == [(D1,)]


def test_exceedance_of_the_who_pm25_guideline_per_day(built):
    data_dir, _ = built
    flags = {
        (parameter_id, day): (mean, hours, sensors, count, flag)
        for parameter_id, day, mean, hours, sensors, count, flag in _query(
            data_dir,
            """
            select parameter_id, measured_on, mean_value, hours_covered, sensor_count,
                   measurement_count, exceeds_who_pm25_guideline
            from marts.agg_air_quality_daily""",
        )
    }
    assert flags[(2, D1)] == (pytest.approx(17.0), 24, 1, 24, True)
    # Two sensors, one every 10 minutes: hours first, each sensor weighing the same.
    assert flags[(2, D2)] == (pytest.approx(330 / 18), 18, 2, 6 + 18 * 6, True)
    # no2 in µg/m³ (5) and in ppm (7) and temperature: the guideline does not apply; the no2
    # days have 6 hours, too few to judge anyway.
    assert {flags[(p, d)][4] for p in (5, 7, 100) for d in (D1, D2)} == {None}
    assert {flags[(p, d)][1] for p in (5, 7, 100) for d in (D1, D2)} == {6}


def test_dimensions(built):
    data_dir, _ = built
    assert _query(
        data_dir,
        """
        select location_name, first_snapshot_on, last_snapshot_on
        from marts.dim_locations where location_id = 2178""",
    ) == [("Del Norte HS", D1, D2)]
    assert _query(
        data_dir,
        """
        select parameter_id, parameter_name, units, display_name
        from marts.dim_parameters order by parameter_id""",
    ) == [
        (2, "pm25", UGM3, "PM2.5"),
        (5, "no2", UGM3, "NO₂ mass"),
        (7, "no2", "ppm", "NO₂"),
        (100, "temperature", "c", "Temperature (C)"),
    ]
    assert _query(data_dir, "select count(*) from marts.dim_sensors") == [(len(SENSORS),)]
    assert _query(
        data_dir,
        """
        select count(*), min(date_day), max(date_day) from marts.dim_dates""",
    ) == [(7670, dt.date(2015, 1, 1), dt.date(2035, 12, 31))]
    assert _query(
        data_dir,
        """
        select year, quarter, month, month_name, day_of_month, day_of_week, iso_week, is_weekend
        from marts.dim_dates where date_day in ('2024-05-01', '2021-01-03') order by date_day
        """,
    ) == [(2021, 1, 1, "January", 3, 7, 53, True), (2024, 2, 5, "May", 1, 3, 18, False)]


def test_rows_gone_from_the_source_window_vanish_on_rerun(built, tmp_path):
    data_dir, steps = built
    _assert_succeeded(steps["d1_again"][0])
    shutil.copy(data_dir / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:  # the temperature sensor stopped reporting on D1, and one PM2.5 hour was dropped
        con.execute(
            """
            delete from clean.openaq_measurements
            where measured_on = ? and (sensor_id = 40001
                                       or (sensor_id = 3917 and period_start_utc = ?))""",
            [D1, dt.datetime(2024, 5, 1, 3)],
        )
    finally:
        con.close()

    _assert_succeeded(_dbt_build(tmp_path, D1))

    removed = len(VALUES[(40001, D1)]) + 1
    assert _query(tmp_path, "select count(*) from marts.fct_measurements") == [(ROWS_D1 + ROWS_D2 - removed,)]
    assert _query(
        tmp_path,
        """
        select count(*) from marts.fct_measurements
        where (sensor_id = 40001 and measured_on = ?)
           or (sensor_id = 3917 and period_start_utc = '2024-05-01 03:00:00')""",
        D1,
    ) == [(0,)]
    assert _query(
        tmp_path,
        """
        select measured_on, measurement_count from marts.agg_air_quality_daily
        where parameter_id in (2, 100) order by parameter_id, measured_on""",
    ) == [(D1, 23), (D2, 6 + 18 * 6), (D2, 6)]
    # D2 is outside the window: untouched
    fct_d2_before = [r for r in steps["d2"][1] if r[3] == D2]
    assert [r for r in _query(tmp_path, FCT) if r[3] == D2] == fct_d2_before


def test_a_sentinel_or_implausible_value_in_the_fact_fails_the_build(built, tmp_path):
    """The dbt side of the plausibility rules: were the Spark step to let a sentinel or an
    out-of-bounds value through, the test on fct_measurements fails with its reason."""
    data_dir, _ = built
    shutil.copy(data_dir / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        con.execute(
            """
            update clean.openaq_measurements set value = case sensor_id when 40001 then -999
                                                                         else 2500 end
            where measured_on = ? and sensor_id in (40001, 3917) and period_start_utc = ?""",
            [D1, dt.datetime(2024, 5, 1, 1)],
        )
    finally:
        con.close()

    run = _dbt_build(tmp_path, D1)

    failed = {r["unique_id"].split(".")[2]: r["failures"] for r in run.results if r["status"] == "fail"}
    assert {k for k in failed if k.startswith("measurement_is_plausible")} == set(failed)
    assert list(failed.values()) == [2]
    # The two failures are these rows: PM2.5 above its 2,000 µg/m³ bound, a -999 temperature.
    assert _query(
        tmp_path,
        """
        select sensor_id, value from marts.fct_measurements
        where value not between -90 and 2000 order by sensor_id""",
    ) == [(3917, 2500.0), (40001, -999.0)]
