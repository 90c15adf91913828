"""The e-commerce endpoints over the warehouse a real pipeline day built (local profile): each
pages through exactly the rows a direct query of the warehouse returns, money at its scale."""

from contextlib import closing
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
from api_checks import all_pages
from fastapi.testclient import TestClient

from orchestration.serving.api import create_app
from orchestration.serving.settings import ServingSettings

# Written here, independently of queries.py: the tables, their columns and the key order.
DIRECT = {
    "/v1/sales/daily": "select ordered_on, category, currency, orders, items, revenue, cancelled_or_returned_lines"
    " from marts.agg_sales_daily order by ordered_on, category, currency",
    "/v1/campaigns/daily": "select event_date, campaign_id, campaign_name, channel, is_known_campaign, impressions,"
    " clicks, conversions, late_events, spend, revenue, ctr, cpc, conversion_rate, roas, attributed_orders,"
    " attributed_order_revenue from marts.agg_campaign_daily order by event_date, campaign_id",
    "/v1/web-traffic/daily": "select requested_on, requests, unique_visitors, client_error_rate, server_error_rate,"
    " top_paths from marts.agg_web_traffic_daily order by requested_on",
    "/v1/social-mentions/daily": "select created_on, platform, posts, posts_with_mentions, engagement, top_hashtags"
    " from marts.agg_social_mentions_daily order by created_on, platform",
    "/v1/catalog/files": "select landed_on, source, source_file, file_sha256, file_bytes, first_seen_at,"
    " ingest_run_id, rows_in, rows_clean, rows_quarantined, is_current from catalog.ingested_files"
    " order by landed_on, source, source_file, file_sha256",
}


def json_value(value):
    if isinstance(value, Decimal):  # the driver's decimal carries the column's scale
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def test_each_ecommerce_endpoint_serves_exactly_the_warehouses_rows(pipeline_day, tmp_path):
    with closing(duckdb.connect(str(pipeline_day["warehouse"]), read_only=True)) as con:
        expected = {}
        for path, sql in DIRECT.items():
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            expected[path] = [{n: json_value(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]
    settings = ServingSettings(duckdb_path=pipeline_day["warehouse"], snapshot_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        for path, rows in expected.items():
            assert rows, path  # the sample day has rows in every one of them
            items, pages = all_pages(client, path, limit=2)
            assert items == rows, path
            assert pages == -(-len(rows) // 2), path

    def decimals(path: str, column: str) -> set[int]:
        return {len(r[column].split(".")[1]) for r in expected[path] if r[column] is not None}

    assert decimals("/v1/sales/daily", "revenue") == {2}
    assert decimals("/v1/campaigns/daily", "spend") == decimals("/v1/campaigns/daily", "cpc") == {6}
    assert decimals("/v1/campaigns/daily", "attributed_order_revenue") == {2}
