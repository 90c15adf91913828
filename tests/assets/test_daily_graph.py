"""The whole graph for real, in process: sample OpenAQ -> lake -> Spark -> DuckDB marts."""

from datetime import date

import dagster as dg
import duckdb
import pytest

from assets import dbt_models, openaq_clean, openaq_raw
from orchestration.profiles import resources_for
from orchestration.resources.openaq import OpenAQResource

DAY = "2026-11-20"
TABLES = [
    "clean.openaq_measurements",
    "clean.openaq_measurements_quarantine",
    "clean.openaq_locations",
    "clean.openaq_sensors",
    "marts.fct_measurements",
    "marts.agg_air_quality_daily",
    "marts.dim_locations",
    "marts.dim_sensors",
    "marts.dim_parameters",
    "marts.dim_dates",
]


def counts(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}


@pytest.fixture(scope="module")
def local_run(spark, tmp_path_factory):
    """Materialize one day twice on the local profile; returns the data dir and both counts."""
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("SOURCES_MODE", "sample")
        resources = resources_for("local")
        # More quirks than the default, so every quarantine rule and the dedupe have work.
        resources["openaq"] = OpenAQResource(mode="sample", sample_bad_row_ratio=0.02)
        assets = dg.load_assets_from_modules([openaq_raw, openaq_clean, dbt_models])
        first = dg.materialize(assets, resources=resources, partition_key=DAY)
        assert first.success
        after_first = counts(data_dir / "warehouse.duckdb")
        assert dg.materialize(assets, resources=resources, partition_key=DAY).success
        after_second = counts(data_dir / "warehouse.duckdb")
    return data_dir, first, after_first, after_second


def test_the_day_reaches_the_marts(local_run):
    data_dir, _, after, _ = local_run
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        days = con.execute("select distinct measured_on from marts.fct_measurements").fetchall()
        assert days == [(date(2026, 11, 20),)]
        agg = con.execute(
            "select count(*), count(exceeds_who_pm25_guideline) from marts.agg_air_quality_daily"
        ).fetchone()
    assert agg[0] > 0 and agg[1] > 0, "some pm25 rows carry the WHO flag"
    assert after["marts.fct_measurements"] == after["clean.openaq_measurements"]
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        reasons = dict(con.execute(
            "select reason, count(*) from clean.openaq_measurements_quarantine group by 1"
        ).fetchall())
    assert {"missing_value", "non_numeric_value", "negative_value", "invalid_period"} <= set(reasons)


def test_rerunning_the_day_changes_no_count(local_run):
    _, _, after_first, after_second = local_run
    assert after_first == after_second


def test_every_raw_row_is_accounted_for(local_run):
    _, result, after, _ = local_run
    meta = result.asset_materializations_for_node("clean_openaq_measurements")[0].metadata
    raw = meta["raw_rows"].value
    assert raw == meta["clean_rows"].value + meta["quarantined_rows"].value + meta["duplicates_removed"].value
    assert meta["clean_rows"].value == after["clean.openaq_measurements"]
    assert meta["duplicates_removed"].value > 0, "the sample's duplicate rows were removed"


def test_dbt_tests_ran_as_asset_checks_and_passed(local_run):
    _, result, _, _ = local_run
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 10
    failed = [e.check_name for e in evaluations if not e.passed]
    assert not failed
