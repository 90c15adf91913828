"""The e-commerce endpoints (sales, campaigns, web traffic, social mentions, the file catalogue)
over a small warehouse built here with known rows, on DuckDB and on PostgreSQL (through the
read-only reader role, made by `make reader-role` before the catalogue table exists, as on a
new server). The expected JSON is written out by hand: money as strings at the column's scale,
instants in UTC."""

import os
import subprocess
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from api_checks import all_pages
from fastapi.testclient import TestClient

from assets.ecommerce.catalog import SCHEMA as CATALOG_SCHEMA
from orchestration.resources.warehouse import DuckDBWarehouse, PostgresWarehouse
from orchestration.serving.api import create_app
from orchestration.serving.api_keys import KeyStore
from orchestration.serving.settings import ServingSettings

REPO = Path(__file__).resolve().parents[2]
SCOPES = ("sales", "campaigns", "web-traffic", "social", "catalog")
ROUTE_SCOPES = {
    "/v1/sales/daily": "sales",
    "/v1/campaigns/daily": "campaigns",
    "/v1/web-traffic/daily": "web-traffic",
    "/v1/social-mentions/daily": "social",
    "/v1/catalog/files": "catalog",
}
# Written in an order unlike the key order, so the API's order is its own.
MARTS = [
    "create table marts.agg_sales_daily (ordered_on date, category text, currency text, orders bigint,"
    " items integer, revenue decimal(18,2), cancelled_or_returned_lines bigint)",
    "insert into marts.agg_sales_daily values"
    " (date '2026-11-21', 'kitchen', 'EUR', 2, 3, 20.5, 0),"
    " (date '2026-11-20', 'unknown', 'EUR', 1, 4, 8, 1),"
    " (date '2026-11-20', 'kitchen', 'USD', 1, 1, 0.1, 0),"
    " (date '2026-11-20', 'kitchen', 'EUR', 3, 5, 1234567.89, 2),"
    " (date '2026-11-22', 'garden', 'EUR', 0, 0, 0, 3)",
    "create table marts.agg_campaign_daily (event_date date, campaign_id text, campaign_name text, channel text,"
    " is_known_campaign boolean, impressions bigint, clicks bigint, conversions bigint, late_events bigint,"
    " spend decimal(18,6), revenue decimal(18,6), ctr double precision, cpc decimal(18,6),"
    " conversion_rate double precision, roas decimal(18,6), attributed_orders bigint,"
    " attributed_order_revenue decimal(18,2))",
    "insert into marts.agg_campaign_daily values"
    " (date '2026-11-20', 'C999', null, null, false, 0, 1, 0, 0, 0.3, 0, null, 0.3, 0, 0, 0, 0),"
    " (date '2026-11-20', 'C001', 'Brand search', 'search', true, 4, 2, 1, 1, 4, 12, 0.5, 2, 0.5, 3, 1, 49.5),"
    " (date '2026-11-21', 'C002', 'Retargeting', 'display', true, 3, 0, 0, 0, 0.000005, 0, 0, null, null, 0, 0, 0),"
    " (date '2026-11-21', 'C001', 'Brand search', 'search', true, 1, 1, 0, 0, 0, 0, 1, 0, 0, null, 0, 0)",
    "create table marts.agg_web_traffic_daily (requested_on date, requests bigint, unique_visitors bigint,"
    " client_error_rate double precision, server_error_rate double precision, top_paths text)",
    "insert into marts.agg_web_traffic_daily values"
    " (date '2026-11-21', 2, 1, 0, 0, null),"
    " (date '2026-11-20', 10, 5, 0.3, 0.1, '/, /about, /cart'),"
    " (date '2026-11-22', 4, 4, 0.25, 0, '/')",
    "create table marts.agg_social_mentions_daily (created_on date, platform text, posts bigint,"
    " posts_with_mentions bigint, engagement bigint, top_hashtags text)",
    "insert into marts.agg_social_mentions_daily values"
    " (date '2026-11-20', 'twitter', 3, 1, 12, '#sale, #new'),"
    " (date '2026-11-20', 'instagram', 2, 0, 0, null),"
    " (date '2026-11-21', 'twitter', 1, 1, 5, '#sale')",
]
AT = datetime(2026, 11, 20, 6, 0, 0, 123456, tzinfo=UTC)
CATALOG = {  # landing day -> the catalogue rows the asset writes for it
    date(2026, 11, 20): [
        ("orders", "orders/2026-11-20/orders.csv", "a" * 64, 2048, AT, "run-1", 10, 9, 1, False),
        ("orders", "orders/2026-11-20/orders.csv", "b" * 64, 2050, AT.replace(hour=7), "run-2", 10, 10, 0, True),
        (
            "weblogs",
            "weblogs/2026-11-20/access.log",
            "c" * 64,
            999,
            AT.replace(microsecond=0),
            "run-1",
            12,
            12,
            0,
            True,
        ),
    ],
    date(2026, 11, 21): [
        ("social", "social/2026-11-21/posts.json", "d" * 64, 300, AT.replace(day=21), "run-3", 3, 1, 2, True),
    ],
}


def sale(ordered_on, category, currency, orders, items, revenue, cancelled_or_returned_lines) -> dict:
    return dict(locals())


CAMPAIGN = (
    "event_date campaign_id campaign_name channel is_known_campaign impressions clicks conversions late_events"
    " spend revenue ctr cpc conversion_rate roas attributed_orders attributed_order_revenue"
).split()
TRAFFIC = "requested_on requests unique_visitors client_error_rate server_error_rate top_paths".split()
MENTIONS = "created_on platform posts posts_with_mentions engagement top_hashtags".split()
FILE = (
    "landed_on source source_file file_sha256 file_bytes first_seen_at ingest_run_id"
    " rows_in rows_clean rows_quarantined is_current"
).split()


def rows(names: list[str], *values: tuple) -> list[dict]:
    return [dict(zip(names, v, strict=True)) for v in values]


EXPECTED = {
    "/v1/sales/daily": [
        sale("2026-11-20", "kitchen", "EUR", 3, 5, "1234567.89", 2),
        sale("2026-11-20", "kitchen", "USD", 1, 1, "0.10", 0),
        sale("2026-11-20", "unknown", "EUR", 1, 4, "8.00", 1),
        sale("2026-11-21", "kitchen", "EUR", 2, 3, "20.50", 0),
        sale("2026-11-22", "garden", "EUR", 0, 0, "0.00", 3),
    ],
    "/v1/campaigns/daily": rows(
        CAMPAIGN,
        ("2026-11-20", "C001", "Brand search", "search", True, 4, 2, 1, 1)
        + ("4.000000", "12.000000", 0.5, "2.000000", 0.5, "3.000000", 1, "49.50"),
        ("2026-11-20", "C999", None, None, False, 0, 1, 0, 0)
        + ("0.300000", "0.000000", None, "0.300000", 0.0, "0.000000", 0, "0.00"),
        ("2026-11-21", "C001", "Brand search", "search", True, 1, 1, 0, 0)
        + ("0.000000", "0.000000", 1.0, "0.000000", 0.0, None, 0, "0.00"),
        ("2026-11-21", "C002", "Retargeting", "display", True, 3, 0, 0, 0)
        + ("0.000005", "0.000000", 0.0, None, None, "0.000000", 0, "0.00"),
    ),
    "/v1/web-traffic/daily": rows(
        TRAFFIC,
        ("2026-11-20", 10, 5, 0.3, 0.1, "/, /about, /cart"),
        ("2026-11-21", 2, 1, 0.0, 0.0, None),
        ("2026-11-22", 4, 4, 0.25, 0.0, "/"),
    ),
    "/v1/social-mentions/daily": rows(
        MENTIONS,
        ("2026-11-20", "instagram", 2, 0, 0, None),
        ("2026-11-20", "twitter", 3, 1, 12, "#sale, #new"),
        ("2026-11-21", "twitter", 1, 1, 5, "#sale"),
    ),
    "/v1/catalog/files": rows(
        FILE,
        ("2026-11-20", "orders", "orders/2026-11-20/orders.csv", "a" * 64, 2048)
        + ("2026-11-20T06:00:00.123456+00:00", "run-1", 10, 9, 1, False),
        ("2026-11-20", "orders", "orders/2026-11-20/orders.csv", "b" * 64, 2050)
        + ("2026-11-20T07:00:00.123456+00:00", "run-2", 10, 10, 0, True),
        ("2026-11-20", "weblogs", "weblogs/2026-11-20/access.log", "c" * 64, 999)
        + ("2026-11-20T06:00:00+00:00", "run-1", 12, 12, 0, True),
        ("2026-11-21", "social", "social/2026-11-21/posts.json", "d" * 64, 300)
        + ("2026-11-21T06:00:00.123456+00:00", "run-3", 3, 1, 2, True),
    ),
}


def write_catalog(warehouse, root: Path) -> None:
    """Through the catalogue asset's own writer calls: the table and its grant."""
    for day, files in CATALOG.items():
        staged = root / day.isoformat()
        staged.mkdir(parents=True)
        table = pa.Table.from_pylist(
            [dict(zip(FILE[1:], f, strict=True)) | {"landed_on": day} for f in files], schema=CATALOG_SCHEMA
        )
        pq.write_table(table, staged / "part-0.parquet")
        warehouse.replace_partition("catalog", "ingested_files", "landed_on", day, staged, "v1")
    warehouse.grant_read("catalog", "ingested_files")


@pytest.fixture(scope="module")
def duck_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("duck")
    path = root / "warehouse.duckdb"
    with closing(duckdb.connect(str(path))) as con:
        con.execute("create schema marts")
        for sql in MARTS:
            con.execute(sql)
    write_catalog(DuckDBWarehouse(path=str(path)), root / "staged")
    return path


@pytest.fixture(scope="module")
def pg_warehouse(own_postgres_db, tmp_path_factory):
    """The reader role made first, as on a new server; then the marts (covered by its default
    privileges) and the catalogue, written by the warehouse resource, which grants it."""
    db = own_postgres_db
    role, login = f"{db['dbname']}_reader", f"{db['dbname']}_api"
    subprocess.run(
        ["make", "-s", "reader-role"],
        cwd=REPO,
        check=True,
        env={
            **os.environ,
            "WAREHOUSE_ADMIN_USER": db["user"],
            "WAREHOUSE_HOST": db["host"],
            "WAREHOUSE_PORT": str(db["port"]),
            "WAREHOUSE_USER": db["user"],
            "WAREHOUSE_DB": db["dbname"],
            "WAREHOUSE_READER_ROLE": role,
        },
    )
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        for sql in MARTS:
            cur.execute(sql)
        cur.execute(f"create role {login} login")
        cur.execute(f"grant {role} to {login}")
    conn.close()
    write_catalog(PostgresWarehouse(**db, reader_role=role), tmp_path_factory.mktemp("staged"))
    yield {**db, "login": login, "role": role}
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        cur.execute(f"drop role {login}")
        cur.execute(f"drop owned by {role}")
        cur.execute(f"drop role {role}")
    conn.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """name -> (key, scopes): one key per e-commerce scope, one with all, one with none of them."""
    store = KeyStore(tmp_path_factory.mktemp("keys") / "api_keys.sqlite")
    granted = {scope.replace("-", ""): (scope,) for scope in SCOPES} | {"all": SCOPES, "aq": ("air-quality", "users")}
    return store, {name: (store.create(name, scopes), scopes) for name, scopes in granted.items()}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def client(request, keys, tmp_path_factory):
    store, made = keys
    if request.param == "duckdb":
        settings = ServingSettings(
            duckdb_path=request.getfixturevalue("duck_warehouse"),
            snapshot_dir=tmp_path_factory.mktemp("snapshots"),
            api_keys_path=store.path,
        )
    else:
        db = request.getfixturevalue("pg_warehouse")
        settings = ServingSettings(
            profile="prod",
            pg_host=db["host"],
            pg_port=db["port"],
            pg_db=db["dbname"],
            pg_user=db["login"],
            reader_role=db["role"],
            api_keys_path=store.path,
        )
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {made['all'][0]}"}) as client:
        client.app_state = app.state
        yield client


@pytest.mark.parametrize("path", EXPECTED)
def test_every_page_size_returns_exactly_the_warehouse_rows_once(client, path):
    expected = EXPECTED[path]
    for limit in (1, 2, len(expected), 1000):
        items, pages = all_pages(client, path, limit=limit)
        assert items == expected, (path, limit)
        assert pages == max(1, -(-len(expected) // limit)), (path, limit)


def keep(path: str, **equal) -> list[dict]:
    return [r for r in EXPECTED[path] if all(r[k] == v for k, v in equal.items())]


def days(path: str, column: str, start: str, end: str) -> list[dict]:
    return [r for r in EXPECTED[path] if start <= r[column][:10] <= end]


@pytest.mark.parametrize(
    "path, params, expected",
    [
        ("/v1/sales/daily", {"category": "kitchen"}, keep("/v1/sales/daily", category="kitchen")),
        ("/v1/sales/daily", {"currency": "USD"}, keep("/v1/sales/daily", currency="USD")),
        (
            "/v1/sales/daily",
            {"category": "kitchen", "currency": "EUR", "date_from": "2026-11-21"},
            keep("/v1/sales/daily", category="kitchen", currency="EUR", ordered_on="2026-11-21"),
        ),
        (
            "/v1/sales/daily",
            {"date_from": "2026-11-21", "date_to": "2026-11-22"},
            days("/v1/sales/daily", "ordered_on", "2026-11-21", "2026-11-22"),
        ),
        ("/v1/campaigns/daily", {"campaign_id": "C001"}, keep("/v1/campaigns/daily", campaign_id="C001")),
        ("/v1/campaigns/daily", {"channel": "display"}, keep("/v1/campaigns/daily", channel="display")),
        (
            "/v1/campaigns/daily",
            {"date_to": "2026-11-20"},
            days("/v1/campaigns/daily", "event_date", "0000", "2026-11-20"),
        ),
        (
            "/v1/web-traffic/daily",
            {"date_from": "2026-11-21", "date_to": "2026-11-21"},
            keep("/v1/web-traffic/daily", requested_on="2026-11-21"),
        ),
        ("/v1/social-mentions/daily", {"platform": "twitter"}, keep("/v1/social-mentions/daily", platform="twitter")),
        (
            "/v1/social-mentions/daily",
            {"platform": "twitter", "date_from": "2026-11-21"},
            keep("/v1/social-mentions/daily", platform="twitter", created_on="2026-11-21"),
        ),
        ("/v1/catalog/files", {"source": "orders"}, keep("/v1/catalog/files", source="orders")),
        ("/v1/catalog/files", {"file_sha256": "c" * 64}, keep("/v1/catalog/files", file_sha256="c" * 64)),
        (
            "/v1/catalog/files",
            {"date_from": "2026-11-21"},
            keep("/v1/catalog/files", landed_on="2026-11-21"),
        ),
        ("/v1/catalog/files", {"source": "x' or 1=1 --"}, []),
        ("/v1/sales/daily", {"date_from": "2000-01-01", "date_to": "2000-01-02"}, []),
    ],
)
def test_filters_select_exactly_the_matching_rows(client, path, params, expected):
    assert expected or "2000" in str(params) or "or 1=1" in str(params)  # the table names real rows
    items, _ = all_pages(client, path, limit=2, **params)
    assert items == expected, params


@pytest.mark.parametrize(
    "path, params, status, message",
    [
        ("/v1/sales/daily", {"date_from": "2026-13-01"}, 422, "valid date"),
        ("/v1/campaigns/daily", {"date_to": "yesterday"}, 422, "valid date"),
        ("/v1/web-traffic/daily", {"limit": "0"}, 422, "greater than or equal to 1"),
        ("/v1/social-mentions/daily", {"limit": "1001"}, 422, "less than or equal to 1000"),
        (
            "/v1/sales/daily",
            {"date_from": "2026-11-22", "date_to": "2026-11-20"},
            400,
            "date_from (2026-11-22) is after date_to (2026-11-20)",
        ),
        ("/v1/catalog/files", {"landed_on": "2026-11-20"}, 400, "unknown query parameter(s) ['landed_on']"),
        ("/v1/web-traffic/daily", {"platform": "x"}, 400, "unknown query parameter(s) ['platform']"),
        ("/v1/campaigns/daily", {"cursor": "not-a-cursor"}, 400, "cursor: not a cursor"),
        # A web-traffic cursor (one day) is not a catalogue cursor (day, source, path, sha256).
        ("/v1/catalog/files", {"cursor": "WyIyMDI2LTExLTIwIl0="}, 400, "cursor: not a cursor"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_clear_message(client, path, params, status, message):
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert message in response.text


def test_scopes_403_without_the_routes_scope_200_with_it(duck_warehouse, keys, tmp_path):
    store, made = keys
    settings = ServingSettings(duckdb_path=duck_warehouse, snapshot_dir=tmp_path, api_keys_path=store.path)
    with TestClient(create_app(settings)) as client:
        for path, scope in ROUTE_SCOPES.items():
            for name, (key, scopes) in made.items():
                response = client.get(path, headers={"Authorization": f"Bearer {key}"})
                if scope in scopes:
                    assert response.status_code == 200, (path, name)
                    assert response.json() == {"items": EXPECTED[path], "next_cursor": None}
                else:
                    assert response.status_code == 403, (path, name)
                    assert response.json() == {
                        "detail": f"API key {name!r} has no scope {scope!r} (its scopes: {', '.join(sorted(scopes))})"
                    }
            assert [name for name, (_, scopes) in made.items() if scope in scopes] == [scope.replace("-", ""), "all"]
            assert client.get(path).status_code == 401


def test_openapi_shows_money_as_fixed_scale_strings_and_the_filters(duck_warehouse, tmp_path):
    settings = ServingSettings(duckdb_path=duck_warehouse, snapshot_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    sales = schemas["sales_daily_item"]["properties"]
    assert sales["revenue"]["type"] == "string" and sales["revenue"]["pattern"] == r"^-?\d+\.\d{2}$"
    campaigns = schemas["campaigns_daily_item"]["properties"]
    assert campaigns["spend"]["pattern"] == r"^-?\d+\.\d{6}$"
    assert campaigns["attributed_order_revenue"]["pattern"] == r"^-?\d+\.\d{2}$"
    assert {t.get("pattern") for t in campaigns["roas"]["anyOf"]} == {r"^-?\d+\.\d{6}$", None}
    params = {p: {q["name"] for q in spec["paths"][p]["get"]["parameters"]} for p in ROUTE_SCOPES}
    paging = {"limit", "cursor", "date_from", "date_to"}
    assert params == {
        "/v1/sales/daily": paging | {"category", "currency"},
        "/v1/campaigns/daily": paging | {"campaign_id", "channel"},
        "/v1/web-traffic/daily": paging,
        "/v1/social-mentions/daily": paging | {"platform"},
        "/v1/catalog/files": paging | {"source", "file_sha256"},
    }


def test_postgres_reader_reads_the_catalogue_table_and_nothing_else_of_its_schema(pg_warehouse):
    login = {k: pg_warehouse[k] for k in ("host", "port", "dbname")} | {"user": pg_warehouse["login"]}
    with psycopg2.connect(**login) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from catalog.ingested_files")
        assert cur.fetchone() == (4,)
    conn.close()
    with psycopg2.connect(**login) as conn, conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cur.execute("select * from catalog._lake_versions")
    conn.close()
    # On a server whose catalogue table exists before the role is refreshed, the script grants it.
    admin = {k: v for k, v in pg_warehouse.items() if k not in ("login", "role")}
    with psycopg2.connect(**admin) as conn, conn.cursor() as cur:
        cur.execute(f"revoke select on catalog.ingested_files from {pg_warehouse['role']}")
    conn.close()
    env = {
        **os.environ,
        "WAREHOUSE_ADMIN_USER": admin["user"],
        "WAREHOUSE_HOST": admin["host"],
        "WAREHOUSE_PORT": str(admin["port"]),
        "WAREHOUSE_USER": admin["user"],
        "WAREHOUSE_DB": admin["dbname"],
        "WAREHOUSE_READER_ROLE": pg_warehouse["role"],
    }
    subprocess.run(["make", "-s", "reader-role"], cwd=REPO, check=True, env=env)
    with psycopg2.connect(**admin) as conn, conn.cursor() as cur:
        cur.execute(
            "select has_table_privilege(%s, 'catalog.ingested_files', 'select'),"
            " has_table_privilege(%s, 'catalog._lake_versions', 'select'),"
            " has_schema_privilege(%s, 'catalog', 'create')",
            [pg_warehouse["role"]] * 3,
        )
        assert cur.fetchone() == (True, False, False)
    conn.close()


def test_the_postgres_cache_version_covers_the_catalogue(client):
    reader = client.app_state.reader
    if not hasattr(reader, "_pool"):
        pytest.skip("PostgreSQL only: the DuckDB version is the file's identity")
    version = reader.version()
    assert "catalog.ingested_files=" in version and "marts.agg_sales_daily=" in version


def test_instants_are_served_in_utc_whatever_the_session_zone():
    from datetime import timedelta, timezone

    from orchestration.serving.api import _json_default

    at = datetime(2026, 11, 20, 7, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert _json_default(at) == "2026-11-20T06:00:00.000005+00:00"
