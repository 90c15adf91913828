"""The ad marts end to end with the real dbt CLI, on DuckDB and on the machine's PostgreSQL.

The clean table is filled pull day by pull day as the Spark step would, and `fct_orders` is a
table of the lake flow's columns written by the test (the model is excluded from the build),
so the attribution join meets real orders. Day 2's pull carries a late event of day 1: the
aggregate of day 1 must change when day 2 is built. Day 2 is then built again: nothing moves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import duckdb
import psycopg2
import pytest

from tests.dbt.rows import insert_duckdb, insert_postgres
from tests.dbt.window import partition_window
from tests.waiting import WAIT_SECONDS

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
D1, D2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
SELECT = [
    "--select",
    "+agg_campaign_daily",
    "dim_dates",
    "--exclude",
    "+fct_orders",
    "--indirect-selection",
    "cautious",
]
EVENT_COLUMNS = """event_id varchar, campaign_id varchar, event_type varchar, event_ts timestamp,
    event_date date, cost decimal(18,6), revenue decimal(18,6), order_id varchar,
    is_late boolean, ingested_on date, ingested_at timestamp"""
ORDER_COLUMNS = """order_id varchar, order_line integer, ordered_at timestamp, ordered_on date,
    customer_key varchar, product_id varchar, product_name varchar, category varchar,
    quantity integer, unit_price decimal(18,2), currency varchar, line_amount decimal(18,2),
    status varchar, campaign_id varchar, source_file varchar, file_sha256 varchar"""


def event(n, campaign, kind, at, cost=0.0, revenue=0.0, order=None, pulled=None):
    at = dt.datetime.fromisoformat(at)
    pulled = pulled or at.date()
    money = D(str(cost)), D(str(revenue))
    return (f"E{n}", campaign, kind, at, at.date(), *money, order, at.date() < pulled, pulled, at)


PULLS = {
    D1: [
        *(event(i, "C001", "impression", f"2026-11-19T0{i}:00:00") for i in range(1, 5)),
        event(5, "C001", "click", "2026-11-19T05:00:00", 0.45),
        event(6, "C001", "click", "2026-11-19T06:00:00", 0.45),
        event(7, "C001", "conversion", "2026-11-19T06:10:00", revenue=80.0, order="O-20261119-00001"),
        *(event(i, "C003", "impression", f"2026-11-19T{i + 10}:00:00", 0.0035) for i in range(8, 11)),
    ],
    D2: [
        event(11, "C001", "impression", "2026-11-19T23:58:00", pulled=D2),  # late
        event(12, "C001", "impression", "2026-11-20T01:00:00"),
        event(13, "C001", "impression", "2026-11-20T02:00:00"),
        event(14, "C001", "click", "2026-11-20T02:00:05", 0.45),
        event(15, "C001", "conversion", "2026-11-20T02:09:00", revenue=50.0, order="O-20261120-00009"),
        # The shop attributes O-..-00002 to C005: no attribution to C002.
        event(16, "C002", "conversion", "2026-11-20T03:00:00", revenue=25.0, order="O-20261120-00002"),
        event(17, "C999", "click", "2026-11-20T04:00:00", 0.30),  # not in the catalogue
    ],
}
ORDERS = [  # order_id, order_line, line_amount, campaign_id
    ("O-20261119-00001", 1, D("30.00"), "C001"),
    ("O-20261119-00001", 2, D("50.00"), "C001"),
    ("O-20261120-00009", 1, D("40.00"), "C001"),
    ("O-20261120-00002", 1, D("20.00"), "C005"),
]
AGG = """select event_date, campaign_id, is_known_campaign, impressions, clicks, conversions,
    late_events, spend, revenue, ctr, cpc, conversion_rate, roas, attributed_orders,
    attributed_order_revenue from marts.agg_campaign_daily order by event_date, campaign_id"""
# event_date, campaign, known, impressions, clicks, conversions, late, spend, revenue, ctr, cpc,
# conversion rate, roas, attributed orders, attributed order revenue. Money is exact decimals
# (CPC and ROAS rounded half-up to 6 decimals); CTR and conversion rate are doubles.
EXPECTED = [
    (D1, "C001", True, 5, 2, 1, 1, D("0.9"), D(80), 0.4, D("0.45"), 0.5, D("88.888889"), 1, D(80)),
    (D1, "C003", True, 3, 0, 0, 0, D("0.0105"), D(0), 0.0, None, None, D(0), 0, D(0)),
    (D2, "C001", True, 2, 1, 1, 0, D("0.45"), D(50), 0.5, D("0.45"), 1.0, D("111.111111"), 1, D(40)),
    (D2, "C002", True, 0, 0, 1, 0, D(0), D(25), None, None, None, None, 0, D(0)),
    (D2, "C999", False, 0, 1, 0, 0, D("0.30"), D(0), None, D("0.30"), 0.0, D(0), 0, D(0)),
]


class DuckDB:
    target = "local"

    def __init__(self, data_dir: Path):
        self.data_dir, self.path = data_dir, str(data_dir / "warehouse.duckdb")

    def env(self) -> dict:
        return {"DATA_DIR": str(self.data_dir)}

    def run(self, sql: str) -> list[tuple]:
        with duckdb.connect(self.path) as con:
            result = con.execute(sql)
            return result.fetchall() if result.description else []

    def insert(self, table: str, rows: list[tuple], columns: tuple[str, ...] = ()) -> None:
        with duckdb.connect(self.path) as con:
            insert_duckdb(con, table, rows, columns)


class Postgres(DuckDB):
    target = "prod"

    def __init__(self, data_dir: Path, params: dict):
        self.data_dir, self.params = data_dir, params

    def env(self) -> dict:
        p = self.params
        return {
            "DATA_DIR": str(self.data_dir),
            "WAREHOUSE_HOST": p["host"],
            "WAREHOUSE_PORT": str(p["port"]),
            "WAREHOUSE_USER": p["user"],
            "WAREHOUSE_DB": p["dbname"],
        }

    def run(self, sql: str) -> list[tuple]:
        with psycopg2.connect(**self.params) as conn, conn.cursor() as cur:
            cur.execute(sql)
            out = cur.fetchall() if cur.description else []
        conn.close()
        return out

    def insert(self, table: str, rows: list[tuple], columns: tuple[str, ...] = ()) -> None:
        with psycopg2.connect(**self.params) as conn, conn.cursor() as cur:
            insert_postgres(cur, table, rows, columns)
        conn.close()


def dbt_build(warehouse, day: dt.date, select: list[str] = SELECT, command: str = "build") -> list[dict]:
    exe = Path(sys.executable).with_name("dbt")
    target = warehouse.data_dir / f"dbt_target_{warehouse.target}"
    cmd = [str(exe) if exe.exists() else "dbt", command, "--target", warehouse.target, *select]
    cmd += ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    cmd += ["--target-path", str(target), "--log-path", str(warehouse.data_dir / "dbt_logs")]
    env = {**os.environ, **warehouse.env(), "DO_NOT_TRACK": "1", **partition_window(day)}
    env.setdefault("WAREHOUSE_READER_ROLE", "ads_test_reader")
    # cwd outside the repository: a `dbt/` folder on sys.path must not shadow dbt-core.
    proc = subprocess.run(cmd, cwd=warehouse.data_dir, env=env, capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return json.loads((target / "run_results.json").read_text())["results"]


def build_days(warehouse) -> dict:
    warehouse.run(f"create schema clean; create table clean.ads_events ({EVENT_COLUMNS})")
    warehouse.run(f"create schema marts; create table marts.fct_orders ({ORDER_COLUMNS})")
    warehouse.insert("marts.fct_orders", ORDERS, ("order_id", "order_line", "line_amount", "campaign_id"))
    steps = {}
    for name, day in (("d1", D1), ("d2", D2), ("d2_again", D2)):
        # The Spark step's idempotent replace of the pull day.
        warehouse.run(f"delete from clean.ads_events where ingested_on = '{day}'")
        warehouse.insert("clean.ads_events", PULLS[day])
        steps[name] = (dbt_build(warehouse, day), warehouse.run(AGG))
    return steps


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"ads_{request.param}")
    if request.param == "duckdb":
        return build_days(DuckDB(data_dir))
    params = request.getfixturevalue("own_postgres_db")
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(
            "do $$ begin create role ads_test_reader nologin; exception when duplicate_object then null; end $$"
        )
    conn.close()
    return build_days(Postgres(data_dir, params))


def rounded(row: tuple) -> tuple:
    """Floats to 9 decimals (sums of doubles differ in the last bits between engines)."""
    return tuple(round(v, 9) if isinstance(v, float) else v for v in row)


def assert_rows(actual, expected):
    assert len(actual) == len(expected), actual
    for got, want in zip(actual, expected, strict=True):
        assert rounded(got) == rounded(want), (got, want)


def test_every_model_test_and_unit_test_passes_and_the_unknown_campaign_warns(built):
    for results, _ in built.values():
        statuses = {r["unique_id"]: r["status"] for r in results}
        assert {s for s in statuses.values()} <= {"success", "pass", "warn"}, statuses
        models = {u.split(".")[-1] for u in statuses if u.startswith("model.")}
        assert {"stg_ads__events", "dim_campaigns", "agg_campaign_daily"} <= models
        assert "fct_orders" not in models
        units = {u.split(".")[-1] for u in statuses if u.startswith("unit_test.")}
        assert {
            "agg_campaign_daily_ratios_and_zero_denominators",
            "agg_campaign_daily_attribution_needs_order_and_campaign",
        } <= units
    warned = {
        name: sorted(r["unique_id"] for r in results if r["status"] == "warn") for name, (results, _) in built.items()
    }
    assert warned["d1"] == []
    assert warned["d2"] and all("relationships" in u and "campaign_id" in u for u in warned["d2"]), warned


def test_day_one_before_its_late_event_arrives(built):
    _, rows = built["d1"]
    assert_rows(
        rows,
        [
            (D1, "C001", True, 4, 2, 1, 0, D("0.9"), D(80), 0.5, D("0.45"), 0.5, D("88.888889"), 1, D(80)),
            (D1, "C003", True, 3, 0, 0, 0, D("0.0105"), D(0), 0.0, None, None, D(0), 0, D(0)),
        ],
    )


def test_day_two_adds_its_days_and_the_late_event_to_day_one(built):
    assert_rows(built["d2"][1], EXPECTED)


def test_rebuilding_day_two_changes_nothing(built):
    assert_rows(built["d2_again"][1], EXPECTED)
