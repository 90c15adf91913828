"""The prod profile's warehouse path on the machine's real PostgreSQL: the clean tables are
loaded with COPY and the dbt marts built and tested by dbt-postgres."""

import dagster as dg
import psycopg2
import pytest

from assets import dbt_models, openaq_clean, openaq_raw
from orchestration.profiles import resources_for

DAYS = ("2026-11-19", "2026-11-20")


def pg_counts(db) -> dict[str, int]:
    tables = ["clean.openaq_measurements", "marts.fct_measurements", "marts.agg_air_quality_daily"]
    with psycopg2.connect(**db) as conn, conn.cursor() as cur:
        out = {}
        for table in tables:
            cur.execute(f"select count(*) from {table}")
            out[table] = cur.fetchone()[0]
        return out


@pytest.fixture(scope="module")
def prod_runs(spark, postgres_db, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(tmp_path_factory.mktemp("lake")))
        mp.setenv("SOURCES_MODE", "sample")
        mp.setenv("SPARK_MASTER_URL", "local[1]")
        mp.setenv("WAREHOUSE_HOST", postgres_db["host"])
        mp.setenv("WAREHOUSE_PORT", str(postgres_db["port"]))
        mp.setenv("WAREHOUSE_USER", postgres_db["user"])
        mp.setenv("WAREHOUSE_DB", postgres_db["dbname"])
        resources = resources_for("prod")
        assets = dg.load_assets_from_modules([openaq_raw, openaq_clean, dbt_models])
        results = []
        for day in (*DAYS, DAYS[0]):  # the re-run of the first day must change nothing
            results.append(dg.materialize(assets, resources=resources, partition_key=day))
            results[-1].counts = pg_counts(postgres_db)
    return results


def test_marts_are_built_and_tested_on_postgres(prod_runs):
    assert all(r.success for r in prod_runs)
    checks = prod_runs[-1].get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_each_day_adds_its_rows_and_a_rerun_adds_none(prod_runs, postgres_db):
    first, second, rerun = (r.counts for r in prod_runs)
    assert 0 < first["marts.fct_measurements"] < second["marts.fct_measurements"]
    assert rerun == second
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute("select measured_on::text, count(*) from marts.fct_measurements group by 1 order by 1")
        per_day = dict(cur.fetchall())
    assert sorted(per_day) == list(DAYS)
    assert sum(per_day.values()) == second["clean.openaq_measurements"]
