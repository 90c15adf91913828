"""What the daemon does with a topic sensor, in process, on a fresh local warehouse: the pull
publishes, the sensor requests one landing-only run per range, the committer brings the lag to
zero, and the automation sensor then asks for the day's clean step, sink and dbt models once
(and for the unpartitioned dimension they feed, on its next tick)."""

import dagster as dg
import duckdb
import pytest

from assets.topics import LANDING_GROUP, USERS_TOPIC
from orchestration.definitions import build_definitions
from orchestration.resources.randomuser import RandomUserResource
from tests.assets.sensor_path import PathStats, drive_automation, drive_topic, start_automation

DAY = "2026-11-20"


@pytest.fixture
def defs(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    defs = build_definitions("local")
    resources = {**defs.resources, "randomuser": RandomUserResource(mode="sample", users_per_day=120)}
    return dg.Definitions(assets=defs.assets, sensors=defs.sensors, resources=resources)


def test_sensor_runs_land_and_one_automated_run_builds_the_users_flow(defs):
    instance = dg.DagsterInstance.ephemeral()
    # The day's dates must exist before a fact points at them; the schedule's run builds them.
    pulled = dg.materialize(
        list(defs.assets),
        selection=dg.AssetSelection.assets(
            ["api", "randomuser_users"], ["kafka", "randomuser_users"], ["marts", "dim_dates"]
        ),
        resources=defs.resources,
        partition_key=DAY,
        instance=instance,
    )
    assert pulled.success
    kafka = defs.resources["kafka"]
    stats = PathStats()
    start_automation(defs, instance, stats)
    drive_topic(defs, instance, USERS_TOPIC, "randomuser_users", max_batch=25, stats=stats)
    # One landing run per range of at most 25 messages, per partition: counted from the topic.
    ranges = sum(-(-end // 25) for end in kafka.end_offsets(USERS_TOPIC).values())
    assert sum(kafka.end_offsets(USERS_TOPIC).values()) == 120
    assert stats.sensor_runs == ranges and not stats.failed_runs, (stats.sensor_runs, ranges)
    assert stats.spark_steps == 0, "sensor runs only land"
    landed = {e.asset_key for r in stats.results for e in r.get_asset_materialization_events()}
    assert landed == {dg.AssetKey(["raw", "randomuser_users"])}
    # The committer's rule after the landing runs' successes: lag 0 before anything downstream.
    assert kafka.committed(LANDING_GROUP, USERS_TOPIC) == kafka.end_offsets(USERS_TOPIC)

    drive_automation(defs, instance, stats)
    assert not stats.failed_runs
    # The day's ranges share one downstream run; the unpartitioned dimension it feeds follows it.
    day_run, dimension_run = stats.results[-2:]
    assert stats.automation_runs == 2 and stats.spark_steps == 1
    assert day_run.dagster_run.tags.get("dagster/partition") == DAY
    built = {e.asset_key.to_user_string() for e in day_run.get_asset_materialization_events()}
    assert {"clean/randomuser_users", "cassandra/created_users", "marts/users_by_country_daily"} <= built
    assert {e.asset_key.to_user_string() for e in dimension_run.get_asset_materialization_events()} == {
        "marts/dim_users"
    }
    (accounting,) = [e for e in day_run.get_asset_check_evaluations() if e.check_name == "messages_accounted_for"]
    assert accounting.passed, accounting.metadata

    # Nothing changed since: the next evaluation asks for nothing.
    before = stats.runs
    drive_automation(defs, instance, stats)
    assert stats.runs == before

    with duckdb.connect(defs.resources["warehouse"].path, read_only=True) as con:
        users = con.execute("select count(*) from clean.randomuser_users").fetchone()[0]
        versions = con.execute("select count(*) from marts.dim_users").fetchone()[0]
        by_country = con.execute("select sum(user_count) from marts.users_by_country_daily").fetchone()[0]
    assert users == versions == by_country == 120
    assert defs.resources["user_store"].count() == 120
