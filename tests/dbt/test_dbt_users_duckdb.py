"""The randomuser models end to end: dim_users (type 2) and users_by_country_daily.

A warehouse is built day by day the way Dagster runs partitions (D1, then D2, then D1 again)
with the real dbt CLI. Before each run the clean table holds what the Spark step would have
written by then (D2's users appear only before the D2 run), so the history in dim_users grows
as it would in production. The same sequence runs on DuckDB and on the machine's real
PostgreSQL, and both must produce the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg2
import pytest

from tests.dbt.rows import insert_duckdb, insert_postgres
from tests.dbt.window import partition_window
from tests.waiting import WAIT_SECONDS

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
D1, D2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
# dim_dates too, for the relationships tests on ingested_on and valid_from; "cautious" keeps
# only tests whose parents are all selected (the default, eager, would also pick the
# air-quality facts' tests against dim_dates, whose tables this warehouse does not have).
SELECT = ["--select", "+dim_users", "+users_by_country_daily", "dim_dates", "--indirect-selection", "cautious"]
INGESTED_AT = {D1: dt.datetime(2024, 5, 1, 6, 0, 12), D2: dt.datetime(2024, 5, 2, 6, 0, 9)}

# Every source table the project declares, with the Spark step's columns: the air-quality ones
# stay empty (outside the selection), randomuser_users is filled day by day. Types are spelled
# so that the same DDL runs on DuckDB and PostgreSQL.
SOURCE_TABLES = {
    "openaq_measurements": """
        sensor_id bigint, location_id bigint, parameter_id bigint, parameter_name varchar,
        units varchar, value double precision, period_start_utc timestamp,
        period_end_utc timestamp, measured_on date, has_flags boolean,
        coverage_percent double precision, latitude double precision,
        longitude double precision, ingested_at timestamp""",
    "openaq_locations": """
        location_id bigint, location_name varchar, locality varchar, timezone varchar,
        country_code varchar, country_name varchar, owner_name varchar, provider_name varchar,
        is_mobile boolean, is_monitor boolean, latitude double precision,
        longitude double precision, first_seen_utc timestamp, last_seen_utc timestamp,
        snapshot_on date""",
    "openaq_sensors": """
        sensor_id bigint, location_id bigint, sensor_name varchar, parameter_id bigint,
        parameter_name varchar, units varchar, parameter_display_name varchar,
        snapshot_on date""",
    "randomuser_users": """
        user_id varchar, gender varchar, title varchar, first_name varchar, last_name varchar,
        email varchar, username varchar, dob_utc timestamp, registered_utc timestamp,
        phone varchar, cell varchar, nationality varchar, street_number bigint,
        street_name varchar, city varchar, state varchar, country varchar, postcode varchar,
        latitude double precision, longitude double precision, timezone_offset varchar,
        timezone_description varchar, id_name varchar, id_value varchar,
        picture_large varchar, picture_medium varchar, picture_thumbnail varchar,
        ingested_on date, ingested_at timestamp""",
}
USER_COLUMNS = [c.split()[0] for c in SOURCE_TABLES["randomuser_users"].split(",")]

U_ASA, U_JORGEN, U_NAZANIN, U_YAROSLAV, U_LOIC, U_CAGLA = (f"{n:08x}-6f1c-4b8e-9a3d-2c4e5f6a7b8c" for n in range(1, 7))


def _user(
    user_id,
    gender,
    title,
    first,
    last,
    email,
    username,
    dob,
    nat,
    street_number,
    street,
    city,
    state,
    country,
    postcode,
    lat,
    lon,
    tz,
    tz_desc,
    id_name,
    id_value,
):
    picture = f"https://randomuser.me/api/portraits/{'women' if gender == 'female' else 'men'}"
    n = int(user_id[:8], 16)
    return {
        "user_id": user_id,
        "gender": gender,
        "title": title,
        "first_name": first,
        "last_name": last,
        "email": email,
        "username": username,
        "dob_utc": dob,
        "registered_utc": dt.datetime(2015, 3, 14, 11, 2, 7) + dt.timedelta(days=n),
        "phone": f"0{n}-555-0{n}1",
        "cell": f"0{n}-555-0{n}2",
        "nationality": nat,
        "street_number": street_number,
        "street_name": street,
        "city": city,
        "state": state,
        "country": country,
        "postcode": postcode,
        "latitude": lat,
        "longitude": lon,
        "timezone_offset": tz,
        "timezone_description": tz_desc,
        "id_name": id_name,
        "id_value": id_value,
        "picture_large": f"{picture}/{n}.jpg",
        "picture_medium": f"{picture}/med/{n}.jpg",
        "picture_thumbnail": f"{picture}/thumb/{n}.jpg",
    }


# Birthdays are picked around the band edges: Åsa turns 30 on D1 itself, Jørgen turns 18 on
# D2 and Yaroslav 45 on D2 (same attributes, so still one version, but a different band).
ASA = _user(
    U_ASA,
    "female",
    "Ms",
    "Åsa",
    "Bjørnstad",
    "asa.bjornstad@example.com",
    "bluebird417",
    dt.datetime(1994, 5, 1, 9, 44, 18),
    "NO",
    8424,
    "Kirkeveien",
    "Trondheim",
    "Trøndelag",
    "Norway",
    "0574",
    63.4305,
    10.3951,
    "+1:00",
    "Brussels, Copenhagen, Madrid, Paris",
    "FN",
    "01059412345",
)
JORGEN = _user(
    U_JORGEN,
    "male",
    "Mr",
    "Jørgen",
    "Ødegård",
    "jorgen.odegard@example.com",
    "tinyfish88",
    dt.datetime(2006, 5, 2, 23, 15),
    "NO",
    3141,
    "Sørumsgata",
    "Bergen",
    "Vestland",
    "Norway",
    "5003",
    60.3913,
    5.3221,
    "+1:00",
    "Brussels, Copenhagen, Madrid, Paris",
    "FN",
    "02050654321",
)
NAZANIN = _user(
    U_NAZANIN,
    "female",
    "Mrs",
    "نازنین",
    "کریمی",
    "nzanyn.khrymy@example.com",
    "sadgoose602",
    dt.datetime(1959, 5, 1, 3, 30),
    "IR",
    5727,
    "شهید کلاهدوز",
    "قزوین",
    "خراسان جنوبی",
    "Iran",
    "97841",
    35.6892,
    51.3890,
    "+3:30",
    "Tehran",
    "",
    None,
)
YAROSLAV = _user(
    U_YAROSLAV,
    "male",
    "Mr",
    "Ярослав",
    "Шевченко",
    "yaroslav.shevchenko@example.com",
    "heavyleopard21",
    dt.datetime(1979, 5, 2, 17, 5),
    "UA",
    1125,
    "Хрещатик",
    "Київ",
    "Київська",
    "Ukraine",
    "01001",
    50.4501,
    30.5234,
    "+2:00",
    "Kaliningrad, South Africa",
    "",
    None,
)
LOIC = _user(
    U_LOIC,
    "male",
    "Monsieur",
    "Loïc",
    "Lefèvre",
    "loic.lefevre@example.com",
    "orangecat59",
    dt.datetime(2010, 12, 24, 6),
    "CH",
    6093,
    "Rue de l'Abbé-Grégoire",
    "Genève",
    "Genève",
    "Switzerland",
    "1204",
    46.2044,
    6.1432,
    "+1:00",
    "Brussels, Copenhagen, Madrid, Paris",
    "AVS",
    "756.1234.5678.97",
)
CAGLA = _user(
    U_CAGLA,
    "female",
    "Miss",
    "Çağla",
    "Öztürk",
    "cagla.ozturk@example.com",
    "redswan774",
    dt.datetime(2000, 2, 29, 14),
    "TR",
    9551,
    "Atatürk Sk",
    "İzmir",
    "İzmir",
    "Turkey",
    "35210",
    38.4237,
    27.1428,
    "+3:00",
    "Baghdad, Riyadh, Moscow, St. Petersburg",
    "",
    None,
)

# What the Spark step writes per pull day. Åsa's email changes on D2; Nazanin and Loïc are
# not pulled on D2; Çağla is new on D2.
USERS_BY_DAY = {
    D1: [ASA, JORGEN, NAZANIN, YAROSLAV, LOIC],
    D2: [{**ASA, "email": "asa.bjornstad@example.no"}, JORGEN, YAROSLAV, CAGLA],
}

# (country, day) -> user_count, female, male, other, under_18, 18_29, 30_44, 45_64, 65_plus
EXPECTED_BY_COUNTRY = {
    ("Iran", D1): (1, 1, 0, 0, 0, 0, 0, 0, 1),  # Nazanin turned 65 on D1
    ("Norway", D1): (2, 1, 1, 0, 1, 0, 1, 0, 0),  # Jørgen 17, Åsa turned 30 on D1
    ("Switzerland", D1): (1, 0, 1, 0, 1, 0, 0, 0, 0),  # Loïc 13
    ("Ukraine", D1): (1, 0, 1, 0, 0, 0, 1, 0, 0),  # Yaroslav 44
    ("Norway", D2): (2, 1, 1, 0, 0, 1, 1, 0, 0),  # Jørgen turned 18 on D2
    ("Turkey", D2): (1, 1, 0, 0, 0, 1, 0, 0, 0),  # Çağla (Feb 29 2000) is 24
    ("Ukraine", D2): (1, 0, 1, 0, 0, 0, 0, 1, 0),  # Yaroslav turned 45 on D2
}

AGG = """
    select country, ingested_on, user_count, female_count, male_count, other_gender_count,
           age_under_18, age_18_29, age_30_44, age_45_64, age_65_plus
    from marts.users_by_country_daily order by ingested_on, country"""
DIM = "select * from marts.dim_users order by user_id, valid_from"
DIM_VERSIONS = """
    select user_id, version_number, valid_from, valid_to, is_current, last_seen_on, email
    from marts.dim_users order by user_id, valid_from"""


def _by_country(rows) -> dict:
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


# ---------------------------------------------------------------------------------- warehouses


class Warehouse:
    """The clean tables and the marts of one engine, as the tests need them."""

    target: str

    def create_sources(self) -> None:
        self.execute("create schema clean")
        for table, columns in SOURCE_TABLES.items():
            self.execute(f"create table clean.{table} ({columns})")

    def write_day(self, day: dt.date, users: list[dict]) -> None:
        """The Spark step's idempotent per-day replace of clean.randomuser_users."""
        rows = [
            tuple({**u, "ingested_on": day, "ingested_at": INGESTED_AT[day]}[c] for c in USER_COLUMNS) for u in users
        ]
        self.replace_day(day, rows)


class DuckDBWarehouse(Warehouse):
    target = "local"

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.path = str(data_dir / "warehouse.duckdb")

    def env(self) -> dict[str, str]:
        return {"DATA_DIR": str(self.data_dir)}

    def execute(self, sql: str) -> None:
        with duckdb.connect(self.path) as con:
            con.execute(sql)

    def replace_day(self, day: dt.date, rows: list[tuple]) -> None:
        with duckdb.connect(self.path) as con:
            con.execute("delete from clean.randomuser_users where ingested_on = ?", [day])
            insert_duckdb(con, "clean.randomuser_users", rows)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(self.path, read_only=True) as con:
            return con.execute(sql).fetchall()


class PostgresWarehouse(Warehouse):
    target = "prod"

    def __init__(self, data_dir: Path, params: dict):
        self.data_dir = data_dir
        self.params = params

    def env(self) -> dict[str, str]:
        return {
            "DATA_DIR": str(self.data_dir),
            "WAREHOUSE_HOST": self.params["host"],
            "WAREHOUSE_PORT": str(self.params["port"]),
            "WAREHOUSE_USER": self.params["user"],
            "WAREHOUSE_DB": self.params["dbname"],
            "WAREHOUSE_READER_ROLE": f"{self.params['dbname']}_reader",
        }

    def execute(self, sql: str) -> None:
        with psycopg2.connect(**self.params) as conn, conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    def replace_day(self, day: dt.date, rows: list[tuple]) -> None:
        with psycopg2.connect(**self.params) as conn, conn.cursor() as cur:
            cur.execute("delete from clean.randomuser_users where ingested_on = %s", [day])
            insert_postgres(cur, "clean.randomuser_users", rows)
        conn.close()

    def query(self, sql: str) -> list[tuple]:
        with psycopg2.connect(**self.params) as conn, conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        conn.close()
        return rows


# ------------------------------------------------------------------------------------ dbt runs


@dataclass
class DbtRun:
    returncode: int
    output: str
    results: list[dict]
    seconds: float


def _dbt_build(warehouse: Warehouse, day: dt.date) -> DbtRun:
    """`dbt build` of the users models for one partition day, as the orchestrator runs it."""
    data_dir = warehouse.data_dir
    exe = Path(sys.executable).with_name("dbt")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dbt.cli.main"]
    target_path = data_dir / f"dbt_target_{warehouse.target}"  # never dbt/target: shared
    cmd += [
        "build",
        "--target",
        warehouse.target,
        *SELECT,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(data_dir / "dbt_logs"),
    ]
    env = {**os.environ, **warehouse.env(), "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env |= partition_window(day)
    started = dt.datetime.now()
    # cwd outside the repository: a `dbt/` folder on sys.path must not shadow dbt-core.
    proc = subprocess.run(cmd, cwd=data_dir, env=env, capture_output=True, text=True, timeout=WAIT_SECONDS)
    seconds = (dt.datetime.now() - started).total_seconds()
    results_file = target_path / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    results_file.unlink(missing_ok=True)
    return DbtRun(proc.returncode, proc.stdout + proc.stderr, results, seconds)


def _assert_succeeded(run: DbtRun) -> None:
    assert run.returncode == 0, run.output[-4000:]
    failed = [(r["unique_id"], r["status"]) for r in run.results if r["status"] not in ("success", "pass")]
    assert not failed, failed


def _build_three_days(warehouse: Warehouse) -> dict:
    """Spark writes D1, dbt builds D1; Spark writes D2, dbt builds D2; Spark re-writes D1
    (the same rows: its replace is idempotent), dbt builds D1 again."""
    warehouse.create_sources()
    steps = {}
    for name, day in (("d1", D1), ("d2", D2), ("d1_again", D1)):
        warehouse.write_day(day, USERS_BY_DAY[day])
        run = _dbt_build(warehouse, day)
        if run.returncode != 0:  # the marts may not exist: the tests report the run
            steps[name] = (run, None, None)
            break
        steps[name] = (run, warehouse.query(DIM), warehouse.query(AGG))
    return steps


@pytest.fixture(scope="module")
def duckdb_built(tmp_path_factory):
    warehouse = DuckDBWarehouse(tmp_path_factory.mktemp("users_duckdb"))
    return warehouse, _build_three_days(warehouse)


@pytest.fixture(scope="module")
def postgres_params():
    """A throwaway database on the machine's real PostgreSQL (127.0.0.1:5432), dropped after.

    Deliberately not a skip: a server that is not there fails the tests that use it.
    """
    params = {
        "host": os.getenv("WAREHOUSE_HOST", "127.0.0.1"),
        "port": int(os.getenv("WAREHOUSE_PORT", "5432")),
        "user": os.getenv("WAREHOUSE_USER", "postgres"),
    }
    name = f"airstream_users_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **params)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"create database {name}")
            cur.execute(f"create role {name}_reader nologin")  # dbt grants SELECT on the marts to it
        yield {**params, "dbname": name}
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
            cur.execute(f"drop role if exists {name}_reader")
    finally:
        admin.close()


@pytest.fixture(scope="module")
def postgres_built(postgres_params, tmp_path_factory):
    warehouse = PostgresWarehouse(tmp_path_factory.mktemp("users_postgres"), postgres_params)
    return warehouse, _build_three_days(warehouse)


# --------------------------------------------------------------------------------------- tests


def test_every_build_passes_models_tests_and_unit_tests(duckdb_built):
    _, steps = duckdb_built
    for run, _, _ in steps.values():
        _assert_succeeded(run)
        models = {r["unique_id"] for r in run.results if r["unique_id"].startswith("model.")}
        assert models == {
            f"model.airstream.{m}"
            for m in ("stg_randomuser__users", "dim_users", "users_by_country_daily", "dim_dates")
        }
        unit_tests = {r["unique_id"].rsplit(".", 1)[-1] for r in run.results if r["unique_id"].startswith("unit_test.")}
        assert {
            "dim_users_email_change_on_day_2_closes_the_first_version",
            "users_by_country_daily_leap_day_birthdays",
        } <= unit_tests
        assert sum(r["unique_id"].startswith("test.") for r in run.results) >= 20
        print(f"dbt build (duckdb): {run.seconds:.1f}s, {len(run.results)} nodes")
    assert list(steps) == ["d1", "d2", "d1_again"]


def test_staging_is_a_view_and_the_marts_are_tables(duckdb_built):
    warehouse, _ = duckdb_built
    assert set(
        warehouse.query("""
        select table_schema, table_name, table_type from information_schema.tables
        where table_name like '%user%'""")
    ) == {
        ("clean", "randomuser_users", "BASE TABLE"),
        ("staging", "stg_randomuser__users", "VIEW"),
        ("marts", "dim_users", "BASE TABLE"),
        ("marts", "users_by_country_daily", "BASE TABLE"),
    }


def test_dim_users_grows_a_version_when_an_attribute_changes(duckdb_built):
    warehouse, steps = duckdb_built
    _assert_succeeded(steps["d2"][0])
    versions = warehouse.query(DIM_VERSIONS)
    assert [v for v in versions if v[0] == U_ASA] == [
        (U_ASA, 1, D1, D2, False, D1, "asa.bjornstad@example.com"),
        (U_ASA, 2, D2, None, True, D2, "asa.bjornstad@example.no"),
    ]
    # Unchanged on D2 (an age band changing is no attribute change): one open version.
    assert [v[1:6] for v in versions if v[0] in (U_JORGEN, U_YAROSLAV)] == [(1, D1, None, True, D2)] * 2
    # Not pulled on D2: still current, last seen on D1.
    assert [v[1:6] for v in versions if v[0] in (U_NAZANIN, U_LOIC)] == [(1, D1, None, True, D1)] * 2
    assert [v[1:6] for v in versions if v[0] == U_CAGLA] == [(1, D2, None, True, D2)]
    assert len(versions) == 7


def test_dim_users_after_d1_has_one_version_per_user(duckdb_built):
    _, steps = duckdb_built
    _, dim_d1, _ = steps["d1"]
    assert len(dim_d1) == len(USERS_BY_DAY[D1])
    assert {row[1] for row in dim_d1} == {u["user_id"] for u in USERS_BY_DAY[D1]}


def test_dim_users_keeps_attributes_and_non_ascii_text(duckdb_built):
    warehouse, _ = duckdb_built
    [row] = warehouse.query(f"""
        select first_name, last_name, city, street_name, nationality, gender, dob_utc,
               timezone_offset, postcode, latitude, user_version_key
        from marts.dim_users where user_id = '{U_NAZANIN}'""")
    assert row[:10] == (
        "نازنین",
        "کریمی",
        "قزوین",
        "شهید کلاهدوز",
        "IR",
        "female",
        dt.datetime(1959, 5, 1, 3, 30),
        "+3:30",
        "97841",
        pytest.approx(35.6892),
    )
    assert len(row[10]) == 32
    columns = [
        r[0]
        for r in warehouse.query("""
        select column_name from information_schema.columns
        where table_schema = 'marts' and table_name = 'dim_users'""")
    ]
    assert not {"national_id_name", "national_id_value", "id_value"} & set(columns)


def test_users_by_country_daily_counts_genders_and_age_bands(duckdb_built):
    warehouse, steps = duckdb_built
    _, _, agg_d1 = steps["d1"]
    assert _by_country(agg_d1) == {k: v for k, v in EXPECTED_BY_COUNTRY.items() if k[1] == D1}
    assert _by_country(warehouse.query(AGG)) == EXPECTED_BY_COUNTRY


def test_rerunning_d1_changes_nothing(duckdb_built):
    _, steps = duckdb_built
    _, dim_d2, agg_d2 = steps["d2"]
    run, dim_again, agg_again = steps["d1_again"]
    _assert_succeeded(run)
    assert dim_again == dim_d2
    assert agg_again == agg_d2


def test_a_re_cleaned_day_rewrites_history_and_its_window(duckdb_built, tmp_path):
    """D1 re-cleaned without Loïc: his D1 row, his country on D1 and his version vanish;
    D2 is outside the window and untouched."""
    warehouse, steps = duckdb_built
    _assert_succeeded(steps["d1_again"][0])
    shutil.copy(warehouse.path, tmp_path / "warehouse.duckdb")
    copy = DuckDBWarehouse(tmp_path)
    copy.write_day(D1, [u for u in USERS_BY_DAY[D1] if u is not LOIC])

    _assert_succeeded(_dbt_build(copy, D1))

    expected = {k: v for k, v in EXPECTED_BY_COUNTRY.items() if k != ("Switzerland", D1)}
    assert _by_country(copy.query(AGG)) == expected
    assert [r[1] for r in copy.query(DIM) if r[1] == U_LOIC] == []
    assert len(copy.query(DIM)) == 6


def test_postgres_gives_the_same_rows_as_duckdb(duckdb_built, postgres_built):
    _, duck_steps = duckdb_built
    _, pg_steps = postgres_built
    for name, (run, dim, agg) in pg_steps.items():
        _assert_succeeded(run)
        print(f"dbt build (postgres, {name}): {run.seconds:.1f}s, {len(run.results)} nodes")
        _, duck_dim, duck_agg = duck_steps[name]
        assert agg == duck_agg, name
        # Exactly equal, surrogate keys and doubles included (the doubles are only copied).
        assert dim == duck_dim, name
    assert list(pg_steps) == ["d1", "d2", "d1_again"]
