"""Money in the e-commerce marts is exact: fixed-point decimals end to end, on DuckDB and PostgreSQL.

The clean tables are written as the Spark step writes them (decimal(18,2) shop amounts,
decimal(18,6) ad money) with amounts a float cannot sum exactly (a thousand lines of 0.10):
the marts must hold the exact decimal totals, their money columns must be DECIMAL/NUMERIC of
the documented precision and scale (information_schema), and building the same day again from
the same rows inserted in the opposite order must give byte-identical mart rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import psycopg2
import pytest

from tests.dbt.test_dbt_ads import DuckDB, Postgres, dbt_build

DAY = dt.date(2026, 11, 20)
MICRO = Decimal("0.000001")
SELECT = [
    "--select",
    "+agg_sales_daily",
    "+agg_campaign_daily",
    "dim_dates",
    "--indirect-selection",
    "cautious",
]
ORDER_COLUMNS = """order_id varchar, order_line integer, ordered_at timestamp, ordered_on date,
    customer_key varchar, product_id varchar, product_name varchar, category varchar,
    quantity integer, unit_price decimal(18,2), currency varchar, line_amount decimal(18,2),
    status varchar, campaign_id varchar, source_file varchar, file_sha256 varchar,
    record_number bigint, received_at timestamp"""
EVENT_COLUMNS = """event_id varchar, campaign_id varchar, event_type varchar, event_ts timestamp,
    event_date date, cost decimal(18,6), revenue decimal(18,6), order_id varchar,
    is_late boolean, ingested_on date, ingested_at timestamp"""
AT = dt.datetime(2026, 11, 20, 10)


def order_line(n: int, price: str, quantity: int = 1, category: str = "kitchen", campaign=None):
    price = Decimal(price)
    return (
        f"O-20261120-{n:05d}", 1, AT, DAY, None, "P-1", "Mug", category, quantity, price, "EUR",
        price * quantity, "paid", campaign, f"transactions/{DAY}/a.csv", "f" * 64, n, AT,
    )  # fmt: skip


# A thousand 0.10 lines (a float sum is 99.9999999999986), thirds of a euro, one attributed order.
ORDERS = [
    *(order_line(n, "0.10") for n in range(1, 1001)),
    *(order_line(n, "0.33", 3, "garden") for n in range(1001, 1101)),
    order_line(2000, "19.99", 2, "garden", campaign="C001"),
]


def ad_event(n: int, kind: str, cost: str, revenue: str = "0", order=None):
    return (f"E{n}", "C001", kind, AT, DAY, Decimal(cost), Decimal(revenue), order, False, DAY, AT)


# CPM impressions at a fraction of a cent, clicks at 0.10, one conversion crediting 39.98.
EVENTS = [
    *(ad_event(n, "impression", "0.0035") for n in range(1, 3001)),
    *(ad_event(n, "click", "0.10") for n in range(3001, 3007)),
    ad_event(4000, "conversion", "0", "39.98", "O-20261120-02000"),
]
SPEND = sum(Decimal(e[5]) for e in EVENTS)  # 3000 x 0.0035 + 6 x 0.10 = 11.1
SALES = {
    "kitchen": sum(o[11] for o in ORDERS if o[7] == "kitchen"),  # 100.00
    "garden": sum(o[11] for o in ORDERS if o[7] == "garden"),  # 99.00 + 39.98
}
MONEY_COLUMNS = {
    ("agg_sales_daily", "revenue"): (18, 2),
    ("fct_orders", "unit_price"): (18, 2),
    ("fct_orders", "line_amount"): (18, 2),
    ("dim_campaigns", "budget"): (18, 2),
    ("agg_campaign_daily", "spend"): (18, 6),
    ("agg_campaign_daily", "revenue"): (18, 6),
    ("agg_campaign_daily", "cpc"): (18, 6),
    ("agg_campaign_daily", "roas"): (18, 6),
    ("agg_campaign_daily", "attributed_order_revenue"): (18, 2),
}
MARTS = {
    "agg_sales_daily": "select * from marts.agg_sales_daily order by ordered_on, category, currency",
    "agg_campaign_daily": "select * from marts.agg_campaign_daily order by event_date, campaign_id",
    "fct_orders": "select * from marts.fct_orders order by order_id, order_line",
    "dim_campaigns": "select * from marts.dim_campaigns order by campaign_id",
}


def load_day(warehouse, reverse: bool) -> None:
    """The Spark step's idempotent replace of the day; `reverse` inserts the rows backwards."""
    for table, rows in (("ecommerce_orders", ORDERS), ("ads_events", EVENTS)):
        column = "ordered_on" if table == "ecommerce_orders" else "ingested_on"
        warehouse.run(f"delete from clean.{table} where {column} = '{DAY}'")
        rows = rows[::-1] if reverse else rows
        warehouse.insert(f"clean.{table}", rows)


def build(warehouse) -> dict:
    warehouse.run(f"create schema clean; create table clean.ecommerce_orders ({ORDER_COLUMNS})")
    warehouse.run(f"create table clean.ads_events ({EVENT_COLUMNS})")
    builds = []
    for reverse in (False, True):
        load_day(warehouse, reverse)
        results = dbt_build(warehouse, DAY, SELECT)
        builds.append((results, {name: warehouse.run(sql) for name, sql in MARTS.items()}))
    types = warehouse.run(
        "select table_name, column_name, data_type, numeric_precision, numeric_scale "
        "from information_schema.columns where table_schema = 'marts'"
    )
    return {"builds": builds, "types": {(t, c): (d, p, s) for t, c, d, p, s in types}}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"money_{request.param}")
    if request.param == "duckdb":
        return build(DuckDB(data_dir))
    params = request.getfixturevalue("own_postgres_db")
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(
            "do $$ begin create role ads_test_reader nologin; exception when duplicate_object then null; end $$"
        )
    conn.close()
    return build(Postgres(data_dir, params))


def test_every_model_and_type_test_passes(built):
    for results, _ in built["builds"]:
        statuses = {r["unique_id"]: r["status"] for r in results}
        assert set(statuses.values()) <= {"success", "pass"}, statuses
        type_tests = [u for u in statuses if u.startswith("test.") and ".decimal_type_" in u]
        assert len(type_tests) >= len(MONEY_COLUMNS), sorted(type_tests)


def test_sales_revenue_is_the_exact_decimal_sum(built):
    _, marts = built["builds"][0]
    got = {row[1]: row for row in marts["agg_sales_daily"]}
    assert {c: (got[c][3], got[c][4], got[c][5]) for c in got} == {
        "kitchen": (1000, 1000, Decimal("100.00")),
        "garden": (101, 302, Decimal("138.98")),
    }
    assert SALES == {"kitchen": Decimal("100.00"), "garden": Decimal("138.98")}
    # The scale is the column's, not the value's: 100.00, not 100 or 1E+2.
    assert [str(got[c][5]) for c in ("garden", "kitchen")] == ["138.98", "100.00"]


def test_campaign_money_is_exact_and_its_ratios_rounded_half_up(built):
    _, marts = built["builds"][0]
    (row,) = marts["agg_campaign_daily"]
    campaign, counts, (spend, revenue) = row[1], row[5:9], row[9:11]
    cpc, roas, attributed, attributed_revenue = row[12], row[14], row[15], row[16]
    assert (campaign, counts) == ("C001", (3000, 6, 1, 0))
    assert SPEND == Decimal("11.1") and (spend, revenue) == (SPEND, Decimal("39.98"))
    assert cpc == (SPEND / 6).quantize(MICRO, ROUND_HALF_UP) == Decimal("1.85")
    assert roas == (Decimal("39.98") / SPEND).quantize(MICRO, ROUND_HALF_UP) == Decimal("3.601802")
    assert (attributed, attributed_revenue) == (1, Decimal("39.98"))
    assert [str(v) for v in (spend, cpc, roas, attributed_revenue)] == ["11.100000", "1.850000", "3.601802", "39.98"]


def test_money_columns_are_decimals_of_the_documented_scale(built):
    types = built["types"]
    for column, (precision, scale) in MONEY_COLUMNS.items():
        data_type, got_precision, got_scale = types[column]
        assert data_type.lower() in ("numeric", f"decimal({precision},{scale})"), (column, data_type)
        assert (got_precision, got_scale) == (precision, scale), column


def test_two_builds_of_the_same_day_give_byte_identical_marts(built):
    (_, first), (_, second) = built["builds"]
    assert all(first[name] for name in MARTS)
    # repr keeps each Decimal's digits and scale: equal text, not merely equal numbers.
    assert {name: repr(rows) for name, rows in first.items()} == {name: repr(rows) for name, rows in second.items()}
