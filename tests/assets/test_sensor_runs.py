"""What the daemon does with a topic sensor, in process, on a fresh local warehouse: the pull
publishes, the sensor requests runs, each run builds its flow's subset of the graph (landing,
Spark, sink, dbt models) and the committer brings the lag to zero."""

import dagster as dg
import duckdb
import pytest

from assets.landing import randomuser_users_landing
from assets.topics import LANDING_GROUP, USERS_TOPIC
from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.randomuser import RandomUserResource
from orchestration.sensors import evaluate_topic

DAY = "2026-11-20"


@pytest.fixture
def local(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    resources = resources_for("local")
    resources["randomuser"] = RandomUserResource(mode="sample", users_per_day=120)
    return resources


def test_sensor_runs_build_the_users_flow_from_an_empty_warehouse(local):
    assets = all_assets()
    pulled = dg.materialize(
        assets,
        selection=dg.AssetSelection.assets(["api", "randomuser_users"], ["kafka", "randomuser_users"]),
        resources=local,
        partition_key=DAY,
    )
    assert pulled.success
    kafka = local["kafka"]
    tick = evaluate_topic(None, kafka, USERS_TOPIC, randomuser_users_landing, max_batch=50, max_runs=50)
    assert tick.run_requests, "the sensor saw the new messages"

    instance = dg.DagsterInstance.ephemeral()
    selection = dg.AssetSelection.assets(randomuser_users_landing).downstream()
    for request in tick.run_requests:
        result = dg.materialize(
            assets,
            selection=selection,
            resources=local,
            partition_key=request.partition_key,
            run_config=request.run_config,
            tags=request.tags,
            instance=instance,
        )
        assert result.success
        # A range run lands part of the day: the accounting balances what landed so far.
        (accounting,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "messages_accounted_for"]
        assert accounting.passed, accounting.metadata
    # Each run's last step committed through what it landed.
    assert kafka.committed(LANDING_GROUP, USERS_TOPIC) == kafka.end_offsets(USERS_TOPIC)

    with duckdb.connect(local["warehouse"].path, read_only=True) as con:
        users = con.execute("select count(*) from clean.randomuser_users").fetchone()[0]
        versions = con.execute("select count(*) from marts.dim_users").fetchone()[0]
        by_country = con.execute("select sum(user_count) from marts.users_by_country_daily").fetchone()[0]
    assert users == versions == by_country == 120
    assert local["user_store"].count() == 120
