"""The whole graph for real, in process, on the local profile: sample APIs -> embedded Kafka
log -> lake -> Spark -> DuckDB marts, MongoDB and Cassandra stand-ins."""

import re
import sqlite3
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from assets.serving_accounting import (
    CASSANDRA,
    FCT_MEASUREMENTS,
    MONGO,
    cassandra_accounts,
    document_id,
    mart_accounts,
    mongo_accounts,
    store_result,
)
from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.openaq import OpenAQResource
from orchestration.resources.randomuser import RandomUserResource
from tests.dbt.test_dbt_ads import DuckDB
from tests.dbt.unit_tests import project_unit_tests, run_unit_tests

DAY = "2026-11-20"
TABLES = [
    "clean.openaq_measurements",
    "clean.openaq_measurements_quarantine",
    "clean.openaq_locations",
    "clean.openaq_sensors",
    "clean.randomuser_users",
    "clean.randomuser_users_quarantine",
    "marts.fct_measurements",
    "marts.agg_air_quality_daily",
    "marts.dim_locations",
    "marts.dim_sensors",
    "marts.dim_parameters",
    "marts.dim_dates",
    "marts.dim_users",
    "marts.users_by_country_daily",
    "clean.ads_events",
    "clean.ads_events_quarantine",
    "marts.agg_campaign_daily",
]


def counts(resources) -> dict[str, int]:
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        out = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    out["mongo"] = resources["measurement_store"].count()
    out["cassandra"] = resources["user_store"].count()
    return out


@pytest.fixture(scope="module")
def instance():
    """One instance for the module: a check run later reads the runs' materializations."""
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="module")
def local_run(spark, tmp_path_factory, instance):
    """Materialize one day twice on the local profile; returns the resources, the first
    result and the counts after each run."""
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("SOURCES_MODE", "sample")
        resources = resources_for("local")
        # More quirks than the defaults, so every quarantine rule and the dedupe have work.
        resources["openaq"] = OpenAQResource(mode="sample", sample_bad_row_ratio=0.02)
        resources["randomuser"] = RandomUserResource(mode="sample", users_per_day=300, sample_bad_row_ratio=0.02)
        first = dg.materialize(all_assets(), resources=resources, partition_key=DAY, instance=instance)
        assert first.success
        after_first = counts(resources)
        assert dg.materialize(all_assets(), resources=resources, partition_key=DAY, instance=instance).success
        after_second = counts(resources)
    return resources, first, after_first, after_second


def test_the_day_reaches_every_table(local_run):
    resources, _, after, _ = local_run
    # Bad sample users break the topic's contract, so they are dead-lettered before landing.
    empty = [table for table, n in after.items() if n == 0]
    assert empty == ["clean.randomuser_users_quarantine"], after
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        days = con.execute("select distinct measured_on from marts.fct_measurements").fetchall()
        assert days == [(date(2026, 11, 20),)]
        flagged = con.execute("select count(exceeds_who_pm25_guideline) from marts.agg_air_quality_daily").fetchone()
        reasons = dict(
            con.execute("select reason, count(*) from clean.openaq_measurements_quarantine group by 1").fetchall()
        )
    assert flagged[0] > 0, "some pm25 rows carry the WHO flag"
    assert after["marts.fct_measurements"] == after["clean.openaq_measurements"]
    assert {"missing_value", "non_numeric_value", "sentinel_value", "implausible_value", "invalid_period"} <= set(
        reasons
    )
    assert after["cassandra"] == after["clean.randomuser_users"]


def test_rerunning_the_day_changes_no_count(local_run):
    _, _, after_first, after_second = local_run
    assert after_first == after_second


def accounting(result, table: str) -> dict:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["clean", table]) and e.check_name == "messages_accounted_for"
    ]
    return {"passed": evaluation.passed, **{k: v.value for k, v in evaluation.metadata.items()}}


def test_every_message_is_accounted_for(local_run):
    resources, result, after, _ = local_run
    meta = lambda node: result.asset_materializations_for_node(node)[0].metadata  # noqa: E731
    openaq = accounting(result, "openaq_measurements")
    assert openaq["passed"], openaq
    assert openaq["topic_messages"] == meta("openaq_measurements_pull")["messages_written"].value
    assert openaq["landed"] == meta("raw__openaq_measurements")["landed"].value
    assert openaq["clean_rows"] == after["clean.openaq_measurements"]
    assert openaq["quarantined_rows"] == after["clean.openaq_measurements_quarantine"]
    assert openaq["duplicates"] > 0, "the sample's duplicate rows were folded, and counted"
    assert openaq["topic_messages"] == (
        openaq["clean_rows"] + openaq["quarantined_rows"] + openaq["duplicates"] + openaq["dead_lettered"]
    )
    users = accounting(result, "randomuser_users")
    assert users["passed"], users
    # Bad sample users break the contract at the pull: they never reach the topic.
    pulled = meta("randomuser_users_pull")
    assert 0 < pulled["dead_lettered"].value < 300
    assert users["topic_messages"] == 300 - pulled["dead_lettered"].value == users["clean_rows"]
    assert users["not_yet_landed"] == openaq["not_yet_landed"] == 0
    ads = accounting(result, "ads_events")
    assert ads["passed"], ads
    # The malformed sample event is dead-lettered at the pull; the re-sent click is a duplicate.
    assert ads["topic_messages"] == meta("ads_events_pull")["messages_written"].value == ads["landed"]
    assert meta("ads_events_pull")["dead_lettered"].value == 1 and ads["duplicates"] == 1
    assert ads["landed"] == after["clean.ads_events"] + after["clean.ads_events_quarantine"] + 1


def test_quarantine_share_is_checked(local_run):
    _, result, after, _ = local_run
    (share,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "quarantine_share" and e.asset_key == dg.AssetKey(["clean", "openaq_measurements"])
    ]
    expected = after["clean.openaq_measurements_quarantine"] / accounting(result, "openaq_measurements")["landed"]
    assert share.metadata["quarantine_share"].value == pytest.approx(expected, abs=1e-6)
    assert share.severity == dg.AssetCheckSeverity.WARN and share.passed == (expected <= 0.05)


def test_dbt_materializations_carry_row_counts(local_run):
    _, result, after, _ = local_run
    # One dbt step: the daily models and the dimensions in one `dbt build`.
    rows = {
        e.asset_key.to_user_string(): e.materialization.metadata.get("dagster/row_count")
        for e in result.get_asset_materialization_events()
        if e.step_key == "dbt_models"
    }
    assert rows["marts/fct_measurements"].value == after["marts.fct_measurements"]
    assert rows["marts/dim_users"].value == after["marts.dim_users"]
    # Every table; staging views are not counted by dagster-dbt (counting a view re-runs it).
    assert all(value is not None for key, value in rows.items() if key.startswith("marts/")), rows


def test_no_credential_leaves_the_raw_zone(local_run):
    resources, _, _, _ = local_run
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema <> 'raw'"
            ).fetchall()
        }
        text = con.execute("select string_agg(cast(u as varchar), '|') from clean.randomuser_users u").fetchone()[0]
    assert not columns & {"password", "salt", "md5", "sha1", "sha256", "age"}
    assert text and not re.search(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{40}\b|\b[0-9a-f]{64}\b", text), "no hash-like value"
    assert "@" in text, "the rows were really read"


def test_dbt_tests_ran_as_asset_checks_and_passed(local_run):
    _, result, _, _ = local_run
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 10
    failed = [e.check_name for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    # The ad sample carries an event of a campaign the catalogue does not know (C999) on purpose:
    # the warning on it is the one warning a sample day may give.
    warned = {e.check_name for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.WARN}
    assert warned <= {n for n in warned if "campaign" in n and n.startswith("relationships")}, warned


def test_every_dbt_unit_test_passes_on_the_days_duckdb(local_run):
    # Left out of the orchestrated build (assets/dbt_models.py), run here on the parents it built.
    resources = local_run[0]
    warehouse = DuckDB(Path(resources["warehouse"].path).parent)
    assert Path(warehouse.path) == Path(resources["warehouse"].path)
    statuses = run_unit_tests(warehouse, date.fromisoformat(DAY))
    assert len(project_unit_tests()) == 24
    assert statuses == dict.fromkeys(project_unit_tests(), "pass")


def test_after_the_day_the_consumer_group_has_no_lag(local_run):
    """Runs without a sensor (CLI, schedule) commit too: Kafka's lag tools read 0."""
    from assets.topics import ADS_TOPIC, LANDING_GROUP, OPENAQ_TOPIC, USERS_TOPIC

    resources, first, _, _ = local_run
    kafka = resources["kafka"]
    for topic in (OPENAQ_TOPIC, USERS_TOPIC, ADS_TOPIC):
        ends = kafka.end_offsets(topic)
        assert sum(ends.values()) > 0
        assert kafka.committed(LANDING_GROUP, topic) == ends, topic


def test_no_fact_or_aggregate_holds_an_implausible_value_or_a_sentinel(local_run):
    resources, _, _, _ = local_run
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        outside = con.execute("""
            select count(*) from marts.fct_measurements f
            join marts.dim_parameters p using (parameter_id)
            left join reference.measurement_bounds b
                on b.parameter_name = p.parameter_name and b.units = f.units
            where b.min_value is null or f.value not between b.min_value and b.max_value
               or f.value in (select sentinel_value from reference.measurement_sentinels)""").fetchone()
        extremes = con.execute("""
            select count(*) from marts.agg_air_quality_daily a
            join reference.measurement_bounds b using (parameter_name, units)
            where a.min_value < b.min_value or a.max_value > b.max_value""").fetchone()
        hours = con.execute("""
            select min(hours_covered), max(hours_covered), max(sensor_count), max(measurement_count),
                   count(*) filter (where exceeds_who_pm25_guideline is not null and not meets_coverage)
            from marts.agg_air_quality_daily""").fetchone()
        steps = {
            r[0]
            for r in con.execute(
                "select distinct period_end_utc - period_start_utc from marts.fct_measurements"
            ).fetchall()
        }
    assert outside == (0,) and extremes == (0,)
    low, high, sensors, values, judged_uncovered = hours
    assert 1 <= low <= high <= 24 and judged_uncovered == 0
    assert sensors == 2 and values > 24, "two PM2.5 sensors, and more than one value an hour"
    assert {timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1)} <= steps


def store_accounting(result, asset: dg.AssetKey) -> dict:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.asset_key == asset and e.check_name == "rows_accounted_for"
    ]
    return {"passed": evaluation.passed, **{k: v.value for k, v in evaluation.metadata.items()}}


def test_the_sinks_and_the_marts_are_accounted_for(local_run):
    _, result, after, _ = local_run
    mongo = store_accounting(result, MONGO)
    assert mongo["passed"] and mongo["moved"] == [], mongo
    assert mongo["mongo_documents_of_clean_rows"] == mongo["clean_rows"] == after["clean.openaq_measurements"]
    # MongoDB keeps every landed document, quarantined ones included: more than the clean rows.
    assert (
        mongo["mongo_documents_of_landed_ids"]
        == mongo["landed_document_ids"]
        == after["mongo"]
        > after["clean.openaq_measurements"]
    )
    users = store_accounting(result, CASSANDRA)
    assert users["passed"] and users["cassandra_rows"] == users["clean_users"] == after["clean.randomuser_users"]
    mart = store_accounting(result, FCT_MEASUREMENTS)
    assert mart["passed"] and mart["fct_measurements_rows"] == mart["clean_rows"] == after["marts.fct_measurements"]


def run_store_check(local_run, asset: dg.AssetKey) -> tuple[dict, bool]:
    """A store's accounting check as its asset check computes it, over the stores as they are
    now (no asset is re-materialized, so nothing is rewritten). Dagster cannot run a check alone
    with a partition key (no asset selected, no partitions to resolve), so it is called here."""
    resources, day = local_run[0], date.fromisoformat(DAY)
    count, store = {
        MONGO: (mongo_accounts, "measurement_store"),
        CASSANDRA: (cassandra_accounts, "user_store"),
        FCT_MEASUREMENTS: (mart_accounts, "warehouse"),
    }[asset]
    result = store_result({DAY: count(resources["lake"], resources[store], day)}, asset.to_user_string())
    return {"passed": result.passed, **{k: v.value for k, v in result.metadata.items()}}, result.passed


def test_a_sink_document_lost_fails_the_mongo_check(local_run):
    resources = local_run[0]
    before, _ = run_store_check(local_run, MONGO)
    assert before["passed"], before
    clean = pq.read_table(resources["lake"].partition_dir("clean", "openaq_measurements", date.fromisoformat(DAY)))
    victim = document_id(clean["sensor_id"][0].as_py(), clean["period_end_utc"][0].as_py())
    with closing(sqlite3.connect(resources["measurement_store"].path)) as con, con:
        assert con.execute("delete from measurements where _id = ?", [victim]).rowcount == 1
    numbers, success = run_store_check(local_run, MONGO)
    assert not success and not numbers["passed"], numbers
    assert numbers["moved"] == ["mongo_documents_of_clean_rows", "mongo_documents_of_landed_ids"]
    assert numbers["mongo_documents_of_clean_rows"] == numbers["clean_rows"] - 1
    assert numbers["mongo_documents_of_landed_ids"] == numbers["landed_document_ids"] - 1


def test_a_user_row_lost_fails_the_cassandra_check(local_run):
    resources = local_run[0]
    with closing(sqlite3.connect(resources["user_store"].path)) as con, con:
        con.execute("delete from created_users where id = (select min(id) from created_users)")
    numbers, success = run_store_check(local_run, CASSANDRA)
    assert not success and not numbers["passed"] and numbers["moved"] == ["cassandra_rows"], numbers
    assert numbers["cassandra_rows"] == numbers["clean_users"] - 1


def test_a_mart_row_lost_fails_the_fct_measurements_check(local_run):
    resources = local_run[0]
    with duckdb.connect(resources["warehouse"].path) as con:
        con.execute(
            "delete from marts.fct_measurements where (sensor_id, period_end_utc) in"
            " (select sensor_id, period_end_utc from marts.fct_measurements limit 1)"
        )
    numbers, success = run_store_check(local_run, FCT_MEASUREMENTS)
    assert not success and not numbers["passed"] and numbers["moved"] == ["fct_measurements_rows"], numbers
    assert numbers["fct_measurements_rows"] == numbers["clean_rows"] - 1


def test_a_row_lost_by_the_clean_step_fails_the_accounting(local_run, instance):
    """A transform that drops one valid row: the blocking check fails its run, with the numbers."""
    from dataclasses import replace

    from assets import openaq_clean

    keep = openaq_clean.MEASUREMENTS.keep
    lossy = openaq_clean.measurements_asset(
        replace(openaq_clean.MEASUREMENTS, keep=lambda flagged: keep(flagged).exceptAll(keep(flagged).limit(1)))
    )
    numbers, success = rerun_clean(local_run, instance, "openaq_measurements", replacing=lossy)
    assert not success, "a failed blocking check fails its run"
    assert not numbers["passed"] and numbers["missing_at_clean"] == 1 and numbers["missing_at_landing"] == 0, numbers


def test_a_row_lost_from_the_raw_zone_fails_the_accounting(local_run, instance):
    resources = local_run[0]
    directory = resources["lake"].partition_dir("raw", "randomuser_users", date.fromisoformat(DAY))
    victim = next(p for p in sorted(directory.glob("*.parquet")) if pq.ParquetFile(p).metadata.num_rows > 1)
    pq.write_table(pq.read_table(victim).slice(1), victim)  # its first row, not a partition's last
    numbers, success = rerun_clean(local_run, instance, "randomuser_users")
    assert not success
    assert not numbers["passed"] and numbers["missing_at_landing"] == 1 and numbers["missing_at_clean"] == 0, numbers
    assert numbers["lost_messages"] == 1 and len(numbers["lost"]) == 1


def test_a_partition_s_last_message_lost_from_the_raw_zone_fails_the_accounting(local_run, instance):
    """The edge a frontier taken from the raw zone itself cannot see: the last landed message of a
    partition. The landing said it read it and the consumer group has committed past it."""
    resources = local_run[0]
    directory = resources["lake"].partition_dir("raw", "openaq_measurements", date.fromisoformat(DAY))
    files = sorted(directory.glob("*-p0-*.parquet"))
    last = max(max(pq.read_table(f, columns=["kafka_offset"])["kafka_offset"].to_pylist()) for f in files)
    for f in files:
        table = pq.read_table(f)
        pq.write_table(table.filter(pc.not_equal(table["kafka_offset"], last)), f)
    numbers, success = rerun_clean(local_run, instance, "openaq_measurements")
    assert not success
    assert not numbers["passed"] and numbers["missing_at_landing"] == 1 and numbers["not_yet_landed"] == 0, numbers
    assert numbers["lost"] == {"0": str(last)} and numbers["lost_messages"] == 1


def rerun_clean(local_run, instance, table: str, replacing=None) -> tuple[dict, bool]:
    """Re-run a clean step (`replacing` its asset, if given) and return its accounting."""
    selection = dg.AssetSelection.assets(["clean", table], ["clean", f"{table}_quarantine"])
    assets = all_assets()
    if replacing is not None:
        assets = [a for a in assets if not (isinstance(a, dg.AssetsDefinition) and a.keys == replacing.keys)]
        assets.append(replacing)
    result = dg.materialize(
        assets,
        selection=selection,
        resources=local_run[0],
        partition_key=DAY,
        instance=instance,
        raise_on_error=False,
    )
    return accounting(result, table), result.success
