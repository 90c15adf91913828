"""The API on the local profile, over the DuckDB marts a real pipeline run built."""

import shutil
from contextlib import closing

import duckdb
import pytest
from api_checks import EXPECTED, all_pages, check_every_endpoint, check_filters
from fastapi.testclient import TestClient

from orchestration.serving.api import create_app
from orchestration.serving.settings import ServingSettings


def duck_query(path):
    def query(sql):
        with closing(duckdb.connect(str(path), read_only=True)) as con:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]

    return query


@pytest.fixture(scope="module")
def client(pipeline_day, tmp_path_factory):
    settings = ServingSettings(duckdb_path=pipeline_day["warehouse"], snapshot_dir=tmp_path_factory.mktemp("snapshots"))
    with TestClient(create_app(settings)) as client:
        yield client


def test_every_endpoint_pages_through_exactly_the_marts(client, pipeline_day):
    check_every_endpoint(client, duck_query(pipeline_day["warehouse"]))


def test_filters_return_exactly_the_matching_rows(client, pipeline_day):
    check_filters(client, duck_query(pipeline_day["warehouse"]))


@pytest.mark.parametrize(
    "path, params, status, message",
    [
        ("/v1/air-quality/daily", {"date_from": "2026-13-01"}, 422, "valid date"),
        ("/v1/air-quality/daily", {"date_to": "yesterday"}, 422, "valid date"),
        ("/v1/air-quality/daily", {"location_id": "abc"}, 422, "valid integer"),
        ("/v1/air-quality/daily", {"limit": "0"}, 422, "greater than or equal to 1"),
        ("/v1/air-quality/daily", {"limit": "1001"}, 422, "less than or equal to 1000"),
        ("/v1/air-quality/daily", {"pollutant": "pm25"}, 400, "unknown query parameter(s) ['pollutant']"),
        ("/v1/locations", {"date_from": "2026-11-20"}, 400, "unknown query parameter(s) ['date_from']"),
        ("/v1/users/by-country/daily", {"cursor": "not-a-cursor"}, 400, "cursor: not a cursor"),
        # A cursor of another endpoint has the wrong key shape: refused, not misread.
        ("/v1/users/by-country/daily", {"cursor": "WzFd"}, 400, "cursor: not a cursor"),
        ("/v1/locations", {"country": "x' or 1=1 --"}, 200, '"items":[]'),
    ],
)
def test_bad_input_gets_a_4xx_with_a_clear_message(client, path, params, status, message):
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert message in response.text


def test_health_ready_and_openapi(client, pipeline_day):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    marts = duck_query(pipeline_day["warehouse"])(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    )
    # Every flow's marts, not only the ones the API serves (air quality, users, the shop).
    assert {"fct_measurements", "dim_users", "fct_orders", "agg_campaign_daily"} <= {m["table_name"] for m in marts}
    assert ready.status_code == 200 and ready.json()["marts"] == len(marts)
    spec = client.get("/openapi.json").json()
    assert set(EXPECTED) <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/v1/air-quality/daily"]["get"]["parameters"]}
    assert params == {"location_id", "parameter", "country", "date_from", "date_to", "limit", "cursor"}
    item = spec["components"]["schemas"]["air_quality_daily_item"]["properties"]
    assert item["measured_on"] == {"type": "string", "format": "date", "title": "Measured On"}


def test_ready_is_503_without_a_warehouse(tmp_path):
    settings = ServingSettings(duckdb_path=tmp_path / "missing.duckdb", snapshot_dir=tmp_path / "s")
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 503
        response = client.get("/v1/locations")
        assert response.status_code == 503 and "warehouse unavailable" in response.text
        assert client.get("/health").status_code == 200


def test_the_pipeline_writes_while_the_api_serves(pipeline_day, tmp_path):
    """A writer opens the warehouse read-write while the API holds a snapshot open; the API then
    serves the written change without a restart."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_day["warehouse"], warehouse)
    settings = ServingSettings(duckdb_path=warehouse, snapshot_dir=tmp_path / "s", version_check_seconds=0)
    with TestClient(create_app(settings)) as client:
        before, _ = all_pages(client, "/v1/locations", limit=1000)
        with closing(duckdb.connect(str(warehouse))) as writer:  # raises if the API held a lock
            writer.execute(
                "update marts.dim_locations set location_name = 'renamed' where location_id = ?",
                [before[0]["location_id"]],
            )
        after, _ = all_pages(client, "/v1/locations", limit=1000)
    assert after[0]["location_name"] == "renamed" and after[1:] == before[1:]
    assert before[0]["location_name"] != "renamed"


def test_metrics_count_requests_by_route_template(client):
    client.get("/v1/locations", params={"limit": 2})
    client.get("/v1/locations", params={"limit": 0})
    text = client.get("/metrics").text
    assert 'airstream_api_requests_total{method="GET",route="/v1/locations",status="200"}' in text
    assert 'airstream_api_requests_total{method="GET",route="/v1/locations",status="422"}' in text
    assert 'airstream_api_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/locations"}' in text
