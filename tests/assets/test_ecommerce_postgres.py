"""The e-commerce flow on the prod profile's warehouse: clean tables loaded into PostgreSQL,
the marts built and tested by dbt-postgres (data tests; the unit tests of every mart run in
test_prod_warehouse.py), a re-run adding nothing."""

import os

import dagster as dg
import psycopg2
import pytest

from assets.stream_landings import landing_of
from assets.streams import ADS
from orchestration.definitions import all_assets
from orchestration.profiles import resources_for

ads_events_landing = landing_of(ADS)

DAY = "2026-11-20"
TABLES = [
    "clean.ecommerce_orders",
    "clean.ecommerce_orders_quarantine",
    "clean.ecommerce_weblogs",
    "clean.ecommerce_social_posts",
    "catalog.ingested_files",
    "marts.fct_orders",
    "marts.agg_sales_daily",
    "marts.agg_web_traffic_daily",
    "marts.agg_social_mentions_daily",
]


def counts(db) -> dict[str, int]:
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        out = {}
        for table in TABLES:
            cur.execute(f"select count(*) from {table}")
            out[table] = cur.fetchone()[0]
        return out


@pytest.fixture(scope="module")
def runs(spark, own_postgres_db, tmp_path_factory):
    db, role = own_postgres_db, f"{own_postgres_db['dbname']}_reader"
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        cur.execute(f"create role {role} nologin")
    lake = tmp_path_factory.mktemp("lake")
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in {
                "DATA_DIR": str(lake),
                "SOURCES_MODE": "sample",
                "SPARK_MASTER_URL": os.environ["SPARK_REMOTE"],  # the suite's Spark Connect server
                "PII_HASH_KEY": "test-only-pseudonym-key",
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # not used by this selection
                "MONGO_URI": "mongodb://127.0.0.1:1/",
                "WAREHOUSE_HOST": db["host"],
                "WAREHOUSE_PORT": str(db["port"]),
                "WAREHOUSE_USER": db["user"],
                "WAREHOUSE_DB": db["dbname"],
                "WAREHOUSE_READER_ROLE": role,
            }.items():
                mp.setenv(name, value)
            resources = resources_for("prod")
            # The file flow as the file sensor runs it: without what needs the ad stream, which
            # tests/dbt/test_dbt_ads.py builds and tests on PostgreSQL.
            selection = (
                dg.AssetSelection.assets(["landing", "ecommerce_files"]).downstream()
                - dg.AssetSelection.assets(ads_events_landing).downstream()
            )
            results = []
            for _ in range(2):
                result = dg.materialize(all_assets(), resources=resources, partition_key=DAY, selection=selection)
                results.append((result, counts(db)))
        yield results
    finally:
        with psycopg2.connect(**db) as conn, conn.cursor() as cur:
            cur.execute(f"drop owned by {role}")
            cur.execute(f"drop role {role}")


def test_the_marts_build_and_pass_every_test_on_postgres(runs):
    result, after = runs[0]
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    names = {e.check_name for e in evaluations}
    assert {"lines_accounted_for", "unique_combination_of_columns_fct_orders_order_id__order_line"} <= names
    assert [e.check_name for e in evaluations if not e.passed] == []
    assert all(n > 0 for n in after.values()), after
    assert after["marts.fct_orders"] == after["clean.ecommerce_orders"]
    assert after["catalog.ingested_files"] == 6  # two sample files per source


def test_a_rerun_changes_no_count(runs):
    (_, first), (result, second) = runs
    assert result.success and first == second


def test_fct_orders_has_the_contracted_columns_and_types(runs, own_postgres_db):
    with psycopg2.connect(**own_postgres_db) as conn, conn.cursor() as cur:
        cur.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'fct_orders' order by ordinal_position"
        )
        columns = cur.fetchall()
        cur.execute("select count(*) from marts.fct_orders where order_id !~ '^O-20261120-[0-9]{5}$'")
        badly_named = cur.fetchone()[0]
        cur.execute("select count(distinct campaign_id), count(*) - count(campaign_id) from marts.fct_orders")
        campaigns, without_campaign = cur.fetchone()
    assert columns == [
        ("order_id", "text"),
        ("order_line", "integer"),
        ("ordered_at", "timestamp without time zone"),
        ("ordered_on", "date"),
        ("customer_key", "text"),
        ("product_id", "text"),
        ("product_name", "text"),
        ("category", "text"),
        ("quantity", "integer"),
        ("unit_price", "numeric"),
        ("currency", "text"),
        ("line_amount", "numeric"),
        ("status", "text"),
        ("campaign_id", "text"),
        ("source_file", "text"),
        ("file_sha256", "text"),
    ]
    assert badly_named == 0 and campaigns == 8 and without_campaign > 0
