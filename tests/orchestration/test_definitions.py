"""The code location loads in both profiles, with one connected lineage."""

import importlib

import dagster as dg
import pytest

from orchestration.definitions import build_definitions


@pytest.fixture(params=["local", "prod"])
def profile(request) -> str:
    return request.param


@pytest.fixture
def defs(profile, monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return build_definitions(profile)


def test_definitions_load_and_resolve(defs, profile):
    repo = defs.get_repository_def()
    assert repo.get_job("daily")
    assert repo.schedule_defs[0].job_name == "daily"
    # The dead-run sensor judges runs by this machine's process ids: local only (prod's run
    # workers live in other containers; the prod instance's run monitoring is theirs).
    local_only = {"dead_runs_sensor"} if profile == "local" else set()
    assert {s.name for s in repo.sensor_defs} == local_only | {
        "openaq_measurements_sensor",
        "randomuser_users_sensor",
        "ads_events_sensor",
        "kafka_offset_committer",
        "after_landing_automation",
        "run_failure_alerts",
        "check_failure_alerts",
        "ecommerce_landing_sensor",
    }
    assert set(defs.resources) >= {
        "openaq",
        "randomuser",
        "ads",
        "kafka",
        "lake",
        "spark",
        "warehouse",
        "dbt",
        "measurement_store",
        "user_store",
        "lake_io_manager",
    }


def test_the_schedule_and_the_sensors_run_by_default(defs):
    repo = defs.get_repository_def()
    assert [s.default_status for s in repo.schedule_defs] == [dg.DefaultScheduleStatus.RUNNING]
    assert {s.default_status for s in repo.sensor_defs} == {dg.DefaultSensorStatus.RUNNING}


def test_each_flow_commits_its_offsets_after_every_asset_its_landing_feeds(defs):
    graph = defs.resolve_asset_graph()
    for topic, ends in (
        ("openaq_measurements", {("marts", "agg_air_quality_daily"), ("mongo", "openaq_measurements")}),
        ("randomuser_users", {("cassandra", "created_users"), ("marts", "dim_users")}),
        ("ads_events", {("marts", "agg_campaign_daily")}),
    ):
        parents = graph.get(dg.AssetKey(["kafka", f"{topic}_committed"])).parent_keys
        assert {dg.AssetKey(list(key)) for key in ends} <= parents


def test_lineage_runs_from_the_api_pull_to_the_marts(defs):
    graph = defs.resolve_asset_graph()
    upstream = lambda key: graph.get(dg.AssetKey(key)).parent_keys  # noqa: E731
    assert dg.AssetKey(["raw", "openaq_locations"]) in upstream(["api", "openaq_measurements"])
    assert dg.AssetKey(["api", "openaq_measurements"]) in upstream(["kafka", "openaq_measurements"])
    assert dg.AssetKey(["kafka", "openaq_measurements"]) in upstream(["raw", "openaq_measurements"])
    assert dg.AssetKey(["raw", "openaq_measurements"]) in upstream(["clean", "openaq_measurements"])
    assert dg.AssetKey(["raw", "openaq_measurements"]) in upstream(["mongo", "openaq_measurements"])
    assert dg.AssetKey(["clean", "openaq_measurements"]) in upstream(["staging", "stg_openaq__measurements"])
    assert dg.AssetKey(["clean", "openaq_sensors"]) in upstream(["staging", "stg_openaq__sensors"])
    assert dg.AssetKey(["staging", "stg_openaq__measurements"]) in upstream(["marts", "fct_measurements"])
    assert dg.AssetKey(["marts", "fct_measurements"]) in upstream(["marts", "agg_air_quality_daily"])
    # The plausibility rules' files feed the Spark step that quarantines by them and the dbt
    # seeds the marts are tested against.
    rules = dg.AssetKey(["reference", "plausibility_rules"])
    assert rules in upstream(["clean", "openaq_measurements"])
    assert rules in upstream(["clean", "openaq_measurements_quarantine"])
    assert rules in upstream(["reference", "measurement_bounds"])
    assert rules in upstream(["reference", "measurement_sentinels"])
    # Nothing dangles: the graph starts at the API pulls, the generated date spine, the
    # campaigns seed and the e-commerce landing folder (and the rules' files, external).
    roots = {k for k in graph.materializable_asset_keys if not graph.get(k).parent_keys}
    assert roots == {
        dg.AssetKey(["raw", "openaq_locations"]),
        dg.AssetKey(["api", "randomuser_users"]),
        dg.AssetKey(["api", "ads_events"]),
        dg.AssetKey(["marts", "dim_dates"]),
        dg.AssetKey(["landing", "ecommerce_files"]),
        dg.AssetKey(["reference", "campaigns"]),
    }
    assert not graph.get(rules).is_materializable  # files kept in git, not built here


def test_users_lineage_runs_from_the_pull_to_cassandra_and_the_marts(defs):
    graph = defs.resolve_asset_graph()
    chain = [
        ["api", "randomuser_users"],
        ["kafka", "randomuser_users"],
        ["raw", "randomuser_users"],
        ["clean", "randomuser_users"],
        ["cassandra", "created_users"],
    ]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert dg.AssetKey(parent) in graph.get(dg.AssetKey(child)).parent_keys, child
    staging = dg.AssetKey(["staging", "stg_randomuser__users"])
    assert dg.AssetKey(["clean", "randomuser_users"]) in graph.get(staging).parent_keys
    for mart in ("dim_users", "users_by_country_daily"):
        assert staging in graph.get(dg.AssetKey(["marts", mart])).parent_keys


def test_ads_lineage_runs_from_the_pull_to_the_campaign_mart(defs):
    graph = defs.resolve_asset_graph()
    chain = [
        ["api", "ads_events"],
        ["kafka", "ads_events"],
        ["raw", "ads_events"],
        ["clean", "ads_events"],
        ["staging", "stg_ads__events"],
        ["marts", "agg_campaign_daily"],
        ["kafka", "ads_events_committed"],
    ]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert dg.AssetKey(parent) in graph.get(dg.AssetKey(child)).parent_keys, child
    assert dg.AssetKey(["raw", "ads_events"]) in graph.get(dg.AssetKey(["clean", "ads_events_quarantine"])).parent_keys
    mart = graph.get(dg.AssetKey(["marts", "agg_campaign_daily"])).parent_keys
    assert {dg.AssetKey(["marts", "dim_campaigns"]), dg.AssetKey(["marts", "fct_orders"])} <= mart
    assert dg.AssetKey(["reference", "campaigns"]) in graph.get(dg.AssetKey(["marts", "dim_campaigns"])).parent_keys
    checks = {c.name for c in graph.asset_check_keys if c.asset_key == dg.AssetKey(["clean", "ads_events"])}
    assert {"messages_accounted_for", "quarantine_share", "warehouse_matches_lake"} <= checks
    # Every table the lake IO manager copies into the warehouse is compared with the lake.
    copied = {k for k in graph.get_all_asset_keys() if "partition_column" in (graph.get(k).metadata or {})}
    agreed = {c.asset_key for c in graph.asset_check_keys if c.name == "warehouse_matches_lake"}
    assert copied == agreed and dg.AssetKey(["clean", "openaq_measurements_quarantine"]) in agreed


def test_topics_are_kafka_nodes_between_producer_and_consumers(defs):
    graph = defs.resolve_asset_graph()
    for topic in ("openaq_measurements", "randomuser_users", "ads_events"):
        node = graph.get(dg.AssetKey(["kafka", topic]))
        assert "kafka" in node.kinds
        assert node.parent_keys == {dg.AssetKey(["api", topic])}
        assert dg.AssetKey(["raw", topic]) in node.child_keys


# Rebuilt whole from every day's rows (or generated, or reference data): one build serves all days.
UNPARTITIONED = {
    ("marts", "dim_dates"),
    ("marts", "dim_locations"),
    ("marts", "dim_sensors"),
    ("marts", "dim_parameters"),
    ("marts", "dim_users"),
    ("reference", "measurement_bounds"),
    ("reference", "measurement_sentinels"),
    ("reference", "campaigns"),
    ("reference", "order_statuses"),
    ("marts", "dim_campaigns"),
    # Rebuilt whole: late ad events and orders landing later revise past days.
    ("marts", "agg_campaign_daily"),
}


def test_every_asset_but_the_dimensions_is_daily_partitioned_and_backfills_in_one_run(defs):
    graph = defs.resolve_asset_graph()
    unpartitioned = {tuple(k.path) for k in graph.materializable_asset_keys if graph.get(k).partitions_def is None}
    assert unpartitioned == UNPARTITIONED
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        # `dagster asset materialize --partition-range` takes only single-run assets, dimensions too.
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
        if tuple(key.path) not in UNPARTITIONED:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key
            assert node.partitions_def.timezone == "UTC"


def test_dbt_models_are_daily_or_unpartitioned_in_one_definition(defs):
    graph = defs.resolve_asset_graph()
    daily = {
        ("marts", "fct_measurements"),
        ("marts", "agg_air_quality_daily"),
        ("marts", "users_by_country_daily"),
        ("staging", "stg_openaq__measurements"),
        ("staging", "stg_randomuser__users"),
    }
    for key in daily:
        assert graph.get(dg.AssetKey(list(key))).partitions_def is not None, key
    # Each dimension is built once per run, however many days the run covers ...
    dims = [dg.AssetKey(list(k)) for k in UNPARTITIONED if k[0] == "marts"]
    assert dims and all(graph.get(key).partitions_def is None for key in dims)
    # ... and every model is in one op: a run's models are one `dbt build`.
    models = [key for key in graph.materializable_asset_keys if key.path[0] in ("staging", "marts", "reference")]
    assert {defs.get_assets_def(key).node_def.name for key in models} == {"dbt_models"}


def test_a_whole_day_runs_its_dbt_models_as_one_step(monkeypatch, tmp_path):
    from dagster._core.execution.api import create_execution_plan

    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # the graph is the same in both profiles
    job = build_definitions("local").get_implicit_global_asset_job_def()
    plan = create_execution_plan(job, tags={"dagster/partition": "2026-11-20"})
    steps = [step.key for step in plan.get_steps_to_execute_in_topo_order()]
    # No Python asset sits between two models (the Spark step reads the rules' files, as the
    # seeds do), so Dagster does not split the op.
    assert [key for key in steps if key.startswith("dbt_models")] == ["dbt_models"]


def test_every_asset_has_a_flow_group(defs):
    graph = defs.resolve_asset_graph()
    groups = {tuple(k.path): graph.get(k).group_name for k in graph.materializable_asset_keys}
    assert set(groups.values()) <= {"openaq", "users", "ecommerce", "shared"}, groups
    assert groups[("marts", "fct_measurements")] == groups[("marts", "dim_sensors")] == "openaq"
    assert groups[("reference", "measurement_bounds")] == "openaq"
    assert groups[("marts", "dim_users")] == groups[("staging", "stg_randomuser__users")] == "users"
    assert groups[("marts", "dim_dates")] == "shared"


def test_spark_and_warehouse_steps_are_in_their_pools(defs):
    graph = defs.resolve_asset_graph()
    pools = {tuple(k.path): graph.get(k).pools for k in graph.materializable_asset_keys}
    for key in [("clean", "openaq_measurements"), ("clean", "openaq_sensors"), ("clean", "randomuser_users")]:
        assert pools[key] == {"spark"}, key
    for key, pool in pools.items():
        if key[0] in ("staging", "marts", "reference"):
            assert pool == {"warehouse"}, key
    assert pools[("raw", "openaq_measurements")] == set(), "landing takes no pool: raw data lands at once"


def test_sensor_runs_land_and_automation_follows_the_landings(defs):
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    for sensor, table in (
        ("openaq_measurements_sensor", "openaq_measurements"),
        ("randomuser_users_sensor", "randomuser_users"),
    ):
        landing = dg.AssetKey(["raw", table])
        assert repo.get_sensor_def(sensor).asset_selection.resolve(graph) == {landing}
        automated = {k for k in graph.materializable_asset_keys if graph.get(k).automation_condition is not None}
        downstream = dg.AssetSelection.assets(landing).downstream().resolve(graph) - {landing}
        committed = dg.AssetKey(["kafka", f"{table}_committed"])
        assert downstream - {committed} <= automated, "everything the landing feeds follows it"
        assert committed not in automated and landing not in automated
    # Nothing upstream of the landings, and no dimension off the flows, is automated.
    for key in (["marts", "dim_sensors"], ["clean", "openaq_sensors"], ["api", "openaq_measurements"]):
        assert graph.get(dg.AssetKey(key)).automation_condition is None, key
    automation = repo.get_sensor_def("after_landing_automation")
    assert automation.minimum_interval_seconds == 120 and automation.default_status == dg.DefaultSensorStatus.RUNNING


def test_dbt_tests_are_asset_checks(defs):
    checks = defs.resolve_asset_graph().asset_check_keys
    on_fact = {c.name for c in checks if c.asset_key == dg.AssetKey(["marts", "fct_measurements"])}
    assert any(name.startswith("relationships") for name in on_fact), on_fact


def test_profile_is_chosen_from_the_environment(monkeypatch, tmp_path):
    from orchestration import profiles

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "prod")
    assert profiles.deployment() == "prod"
    assert type(profiles.resources_for("prod")["warehouse"]).__name__ == "PostgresWarehouse"
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
    with pytest.raises(ValueError, match="DAGSTER_DEPLOYMENT"):
        profiles.deployment()
    monkeypatch.delenv("DAGSTER_DEPLOYMENT")
    assert importlib.reload(profiles).deployment() == "local"
