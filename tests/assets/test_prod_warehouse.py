"""The prod profile on real servers: Kafka protocol (Tansu), MongoDB wire (SecantusDB) and
PostgreSQL, where the clean tables are loaded with COPY and the dbt marts built and tested by
dbt-postgres. Only Cassandra is the embedded stand-in: no CQL server runs on this machine."""

import dagster as dg
import psycopg2
import pytest

from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.cassandra import EmbeddedUserStore
from orchestration.resources.mongo import MongoMeasurementStore

DAYS = ("2026-11-19", "2026-11-20")


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
        mp.setenv("SPARK_MASTER_URL", "local[1]")
        mp.setenv("WAREHOUSE_HOST", postgres_db["host"])
        mp.setenv("WAREHOUSE_PORT", str(postgres_db["port"]))
        mp.setenv("WAREHOUSE_USER", postgres_db["user"])
        mp.setenv("WAREHOUSE_DB", postgres_db["dbname"])
        resources = resources_for("prod")
        resources["user_store"] = EmbeddedUserStore(path=str(lake / "cassandra.sqlite"))
        assets = all_assets()
        results = []
        for day in (*DAYS, DAYS[0]):  # the re-run of the first day must change nothing
            results.append(dg.materialize(assets, resources=resources, partition_key=day))
            results[-1].counts = pg_counts(postgres_db)
            results[-1].counts["mongo"] = MongoMeasurementStore(
                uri=mongo_uri, database=postgres_db["dbname"]
            ).count()
    return results


def test_marts_are_built_and_tested_on_postgres(prod_runs):
    assert all(r.success for r in prod_runs)
    checks = prod_runs[-1].get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_each_day_adds_its_rows_and_a_rerun_adds_none(prod_runs, postgres_db):
    first, second, rerun = (r.counts for r in prod_runs)
    assert 0 < first["marts.fct_measurements"] < second["marts.fct_measurements"]
    assert 0 < first["mongo"] < second["mongo"]
    assert 0 < first["marts.dim_users"] < second["marts.dim_users"]
    assert rerun == second
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute("select measured_on::text, count(*) from marts.fct_measurements group by 1 order by 1")
        per_day = dict(cur.fetchall())
    assert sorted(per_day) == list(DAYS)
    assert sum(per_day.values()) == second["clean.openaq_measurements"]
