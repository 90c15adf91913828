"""Money in the API's JSON: decimals from the marts become strings at the column's fixed scale."""

import json
from datetime import date
from decimal import Decimal

import duckdb
import psycopg2
import pytest

from orchestration.serving import queries
from orchestration.serving.api import _json_default, page_body, page_model
from orchestration.serving.money import Amount, Micros

# A listing of the shape the sales and campaign marts will have once they are routed.
SALES = queries.Listing(
    name="money_probe",
    source="marts.probe p",
    columns={
        "ordered_on": ("p.ordered_on", date),
        "revenue": ("p.revenue", Amount),
        "cpc": ("p.cpc", Micros | None),
    },
    key=("ordered_on",),
)
MART_ROWS = """select * from (values
    (date '2026-11-20', cast(12.5 as decimal(18,2)), cast(0.0035 as decimal(18,6))),
    (date '2026-11-21', cast(100 as decimal(18,2)), cast(0 as decimal(18,6))),
    (date '2026-11-22', cast(0.1 as decimal(18,2)), cast(null as decimal(18,6)))
) as t(ordered_on, revenue, cpc)"""
EXPECTED = [
    {"ordered_on": "2026-11-20", "revenue": "12.50", "cpc": "0.003500"},
    {"ordered_on": "2026-11-21", "revenue": "100.00", "cpc": "0.000000"},
    {"ordered_on": "2026-11-22", "revenue": "0.10", "cpc": None},
]


def as_dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_encoder_writes_a_decimal_as_its_digits_at_its_scale():
    assert _json_default(Decimal("12.50")) == "12.50"
    assert _json_default(Decimal("0E-6")) == "0.000000"  # str() would say "0E-6"
    assert _json_default(Decimal("1E+2")) == "100"
    with pytest.raises(ValueError):
        _json_default(Decimal("NaN"))


def test_duckdb_decimals_are_served_as_fixed_scale_strings():
    with duckdb.connect() as con:
        rows = as_dicts(con.execute(MART_ROWS))
    body = json.loads(page_body(SALES, rows, 10))
    assert body == {"items": EXPECTED, "next_cursor": None}


def test_postgres_numerics_are_served_as_fixed_scale_strings(postgres_db):
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute(MART_ROWS)
        rows = as_dicts(cur)
    conn.close()
    assert json.loads(page_body(SALES, rows, 10))["items"] == EXPECTED


def test_the_openapi_model_says_money_is_a_string_of_fixed_scale():
    item = page_model(SALES).model_json_schema()["$defs"]["money_probe_item"]["properties"]
    assert item["revenue"]["type"] == "string" and item["revenue"]["pattern"] == r"^-?\d+\.\d{2}$"
    cpc = next(t for t in item["cpc"]["anyOf"] if t.get("type") == "string")
    assert cpc["pattern"] == r"^-?\d+\.\d{6}$" and cpc["format"] == "decimal"
