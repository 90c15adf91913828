"""The prod profile on real servers: Kafka protocol (Tansu), MongoDB wire (SecantusDB) and
PostgreSQL, where the clean tables are loaded with COPY and the dbt marts built and tested by
dbt-postgres. Only Cassandra is the embedded stand-in: no CQL server runs on this machine."""

import os
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.cassandra import EmbeddedUserStore
from orchestration.resources.mongo import MongoMeasurementStore
from tests.dbt.test_dbt_ads import Postgres
from tests.dbt.unit_tests import project_unit_tests, run_unit_tests

DAYS = ("2026-11-19", "2026-11-20")
REPO = Path(__file__).resolve().parents[2]
# What the second day and the re-run are about: the air-quality and users flows (their counts,
# MongoDB, the growing dimension). The first day runs the whole graph, so every mart the reader
# role is tested on exists; the e-commerce and ad flows on PostgreSQL have their own modules
# (test_ecommerce_postgres.py, tests/dbt/test_dbt_ads.py), re-runs included.
AIR_AND_USERS = (
    dg.AssetSelection.assets(["api", "openaq_measurements"], ["raw", "openaq_locations"], ["api", "randomuser_users"])
    .downstream()
    .upstream()
)


def pg_counts(db) -> dict[str, int]:
    tables = [
        "clean.openaq_measurements",
        "marts.fct_measurements",
        "marts.agg_air_quality_daily",
        "marts.dim_users",
        "marts.users_by_country_daily",
    ]
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        out = {}
        for table in tables:
            cur.execute(f"select count(*) from {table}")
            out[table] = cur.fetchone()[0]
        return out


@pytest.fixture(scope="module")
def prod_runs(spark, postgres_db, tansu, mongo_uri, tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(lake))
        mp.setenv("KAFKA_BOOTSTRAP_SERVERS", tansu)
        mp.setenv("MONGO_URI", mongo_uri)
        mp.setenv("MONGO_DATABASE", postgres_db["dbname"])
        mp.setenv("RANDOMUSER_USERS_PER_DAY", "200")
        mp.setenv("SOURCES_MODE", "sample")
        mp.setenv("SPARK_MASTER_URL", os.environ["SPARK_REMOTE"])  # the suite's Spark Connect server
        mp.setenv("PII_HASH_KEY", "test-only-pseudonym-key")
        mp.setenv("WAREHOUSE_HOST", postgres_db["host"])
        mp.setenv("WAREHOUSE_PORT", str(postgres_db["port"]))
        mp.setenv("WAREHOUSE_USER", postgres_db["user"])
        mp.setenv("WAREHOUSE_DB", postgres_db["dbname"])
        mp.setenv("WAREHOUSE_READER_ROLE", reader_role(postgres_db))
        # Before any mart exists, as on a new server: dbt grants on each mart it builds.
        subprocess.run(
            ["make", "-s", "reader-role"],
            cwd=REPO,
            check=True,
            env={**os.environ, "WAREHOUSE_ADMIN_USER": postgres_db["user"]},
        )
        resources = resources_for("prod")
        resources["user_store"] = EmbeddedUserStore(path=str(lake / "cassandra.sqlite"))
        assets = all_assets()
        results = []
        for n, day in enumerate((*DAYS, DAYS[0])):  # the re-run of the first day must change nothing
            selection = None if n == 0 else AIR_AND_USERS
            results.append(dg.materialize(assets, resources=resources, partition_key=day, selection=selection))
            results[-1].counts = pg_counts(postgres_db)
            results[-1].counts["mongo"] = MongoMeasurementStore(uri=mongo_uri, database=postgres_db["dbname"]).count()
    yield results
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:  # roles outlive the database
        cur.execute(f"drop owned by {reader_role(postgres_db)}")
        cur.execute(f"drop role {reader_role(postgres_db)}")


def reader_role(db) -> str:
    return f"{db['dbname']}_reader"  # roles are per server: one per test database


def test_marts_are_built_and_tested_on_postgres(prod_runs):
    assert all(r.success for r in prod_runs)
    # Every run's checks: the whole graph's come from the first day's run.
    checks = [c for r in prod_runs for c in r.get_asset_check_evaluations()]
    assert {"fct_orders", "agg_campaign_daily", "fct_measurements", "dim_users"} <= {
        c.asset_key.path[-1] for c in prod_runs[0].get_asset_check_evaluations()
    }
    assert checks and all(c.passed for c in checks if c.severity == dg.AssetCheckSeverity.ERROR)
    # The ad sample's unknown campaign (C999) is the one thing a sample day warns about, on any
    # engine: in the events and in their daily aggregate (both against dim_campaigns).
    warned = {(c.asset_key.path[-1], c.check_name) for c in checks if not c.passed}
    assert {a for a, _ in warned} <= {"agg_campaign_daily", "stg_ads__events"}, warned
    assert all(n.startswith("relationships") and "campaign_id" in n for _, n in warned), warned


def mongo_sink(result) -> dict:
    """The MongoDB sink's own figures for its run: what it read, and the store's answers."""
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["mongo", "openaq_measurements"]
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_every_dbt_unit_test_passes_on_the_built_postgres_warehouse(prod_runs, postgres_db, tmp_path):
    # Left out of the orchestrated build (assets/dbt_models.py); the first day built every parent.
    statuses = run_unit_tests(Postgres(tmp_path, postgres_db), date.fromisoformat(DAYS[-1]))
    assert statuses == dict.fromkeys(project_unit_tests(), "pass")
    assert len(statuses) == 24


def test_each_day_adds_its_rows_and_a_rerun_adds_none(prod_runs, postgres_db):
    first, second, rerun = (r.counts for r in prod_runs)
    assert 0 < first["marts.fct_measurements"] < second["marts.fct_measurements"]
    # MongoDB, exactly: the collection holds what each day's sink inserted (its store's answers),
    # every document the sink read was inserted, matched or refused for having no id, and the
    # re-run inserted nothing.
    sinks = [mongo_sink(r) for r in prod_runs]
    assert first["mongo"] == sinks[0]["upserted"] > 0
    assert second["mongo"] == sinks[0]["upserted"] + sinks[1]["upserted"]
    assert sinks[2]["upserted"] == 0 and rerun["mongo"] == second["mongo"]
    assert all(s["documents"] == s["upserted"] + s["matched"] + s["without_id"] for s in sinks), sinks
    assert 0 < first["marts.dim_users"] < second["marts.dim_users"]
    assert rerun == second
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute("select measured_on::text, count(*) from marts.fct_measurements group by 1 order by 1")
        per_day = dict(cur.fetchall())
    assert sorted(per_day) == list(DAYS)
    assert sum(per_day.values()) == second["clean.openaq_measurements"]


@pytest.fixture
def consumer(prod_runs, postgres_db):
    """A consumer's own login role, granted the reader role: how access is handed out."""
    name = f"{postgres_db['dbname']}_consumer"
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute(f"create role {name} login")
        cur.execute(f"grant {reader_role(postgres_db)} to {name}")
    try:
        yield {**postgres_db, "user": name}
    finally:
        with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
            cur.execute(f"drop role {name}")


def _refused(db, sql) -> bool:
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        try:
            cur.execute(sql)
        except psycopg2.errors.InsufficientPrivilege:
            return True
        return False


def test_the_reader_role_reads_every_mart_and_is_refused_everything_else(consumer, postgres_db):
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2"
        )
        relations = cur.fetchall()
    # The marts, and the one catalogue table the API serves (/v1/catalog/files).
    marts = [f"{s}.{t}" for s, t in relations if s == "marts"] + ["catalog.ingested_files"]
    others = [f"{s}.{t}" for s, t in relations if f"{s}.{t}" not in marts]
    assert "catalog._lake_versions" in others
    assert len(marts) >= 8 and {"clean", "staging"} <= {name.split(".")[0] for name in others}

    with psycopg2.connect(**consumer) as conn, conn.cursor() as cur:
        for mart in marts:
            cur.execute(f"select count(*) from {mart}")
            assert cur.fetchone()[0] > 0, mart
    assert [name for name in others if not _refused(consumer, f"select 1 from {name} limit 1")] == []
    writes = [
        "insert into marts.dim_dates select * from marts.dim_dates limit 1",
        "update marts.fct_measurements set value = 0",
        "delete from marts.agg_air_quality_daily",
        "truncate marts.dim_users",
        "create table marts.mine (x int)",
        "create table public.mine (x int)",
        "create schema raw",
        "drop table marts.dim_sensors",
    ]
    assert [sql for sql in writes if not _refused(consumer, sql)] == []
