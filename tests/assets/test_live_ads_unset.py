"""Each source in its own mode, the whole graph in process on the local profile: OpenAQ,
randomuser and the landing folder in sample mode (SOURCES_MODE), the ad stream live
(ADS_EVENTS_MODE) with no ADS_EVENTS_URL. `*` materializes; the ad flow reports the skip and
carries an empty day with exact zeros; the other flows hold what an all-sample day holds."""

from datetime import date

import dagster as dg
import duckdb
import pytest

from assets.core.lake_days import parquet_rows
from assets.topics import ADS_TOPIC, LANDING_GROUP
from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from tests.assets.test_daily_graph import accounting

DAY = "2026-11-20"
AD_TABLES = ["clean.ads_events", "clean.ads_events_quarantine", "marts.agg_campaign_daily"]
# The all-sample day of the other flows with these settings (SOURCES_MODE=sample,
# RANDOMUSER_USERS_PER_DAY=300, ADS_EVENTS_MODE unset), counted from a run of this module's
# `run_day` with the ad stream in sample mode: the ad stream's mode changes none of them.
SAMPLE_DAY = {
    "clean.openaq_measurements": 7474,
    "clean.openaq_measurements_quarantine": 14,
    "clean.openaq_locations": 20,
    "clean.openaq_sensors": 89,
    "clean.randomuser_users": 300,
    "clean.randomuser_users_quarantine": 0,
    "clean.ecommerce_orders": 1496,
    "clean.ecommerce_orders_quarantine": 3,
    "clean.ecommerce_weblogs": 5999,
    "clean.ecommerce_social_posts": 299,
    "marts.fct_measurements": 7474,
    "marts.agg_air_quality_daily": 87,
    "marts.dim_users": 300,
    "marts.users_by_country_daily": 21,
    "marts.fct_orders": 1496,
    "marts.agg_sales_daily": 6,
    "marts.agg_web_traffic_daily": 1,
    "marts.agg_social_mentions_daily": 4,
    "mongo": 7483,
    "cassandra": 300,
}
OTHER_TABLES = [
    "clean.openaq_measurements",
    "clean.openaq_measurements_quarantine",
    "clean.openaq_locations",
    "clean.openaq_sensors",
    "clean.randomuser_users",
    "clean.randomuser_users_quarantine",
    "clean.ecommerce_orders",
    "clean.ecommerce_orders_quarantine",
    "clean.ecommerce_weblogs",
    "clean.ecommerce_social_posts",
    "marts.fct_measurements",
    "marts.agg_air_quality_daily",
    "marts.dim_users",
    "marts.users_by_country_daily",
    "marts.fct_orders",
    "marts.agg_sales_daily",
    "marts.agg_web_traffic_daily",
    "marts.agg_social_mentions_daily",
]


def counts(resources, tables) -> dict[str, int]:
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def sink_counts(resources) -> dict[str, int]:
    return {"mongo": resources["measurement_store"].count(), "cassandra": resources["user_store"].count()}


def run_day(data_dir, ads_mode: str, instance: dg.DagsterInstance):
    """The day on the local profile, every source's mode from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("SOURCES_MODE", "sample")
        mp.setenv("ADS_EVENTS_MODE", ads_mode)
        mp.setenv("RANDOMUSER_USERS_PER_DAY", "300")
        for name in ("OPENAQ_MODE", "RANDOMUSER_MODE", "LANDING_MODE", "ADS_EVENTS_URL"):
            mp.delenv(name, raising=False)
        resources = resources_for("local")
        result = dg.materialize(
            all_assets(), resources=resources, partition_key=DAY, instance=instance, raise_on_error=False
        )
    return resources, result


@pytest.fixture(scope="module")
def live_ads_run(spark, tmp_path_factory):
    instance = dg.DagsterInstance.ephemeral()
    resources, result = run_day(tmp_path_factory.mktemp("data"), "live", instance)
    return resources, result, instance


def test_each_source_runs_in_its_own_mode(live_ads_run):
    resources, _, _ = live_ads_run
    modes = {key: resources[key].mode for key in ("openaq", "randomuser", "ads", "landing")}
    assert modes == {"openaq": "sample", "randomuser": "sample", "ads": "live", "landing": "sample"}
    assert resources["ads"].url is None


def test_the_whole_graph_succeeds_and_the_ad_pull_reports_the_skip(live_ads_run):
    _, result, instance = live_ads_run
    failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert result.success, failed
    pull = result.asset_materializations_for_node("ads_events_pull")
    meta = {m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()} for m in pull}
    assert meta["api/ads_events"]["skipped"] == "ADS_EVENTS_URL is not set"
    assert meta["api/ads_events"]["source_mode"] == "live"
    assert meta["api/ads_events"]["messages_written"] == meta["api/ads_events"]["dead_lettered"] == 0
    (topic,) = [key for key in meta if key != "api/ads_events"]
    assert meta[topic]["skipped"] == "ADS_EVENTS_URL is not set" and meta[topic]["messages_written"] == 0
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("ads pull skipped: ADS_EVENTS_URL is not set") for m in logs), logs
    # The other pulls are not skipped and say nothing of it.
    assert "skipped" not in result.asset_materializations_for_node("openaq_measurements_pull")[0].metadata


def test_the_ad_flow_holds_an_empty_day_with_exact_zeros(live_ads_run):
    resources, result, _ = live_ads_run
    assert counts(resources, AD_TABLES) == dict.fromkeys(AD_TABLES, 0)
    day = date.fromisoformat(DAY)
    assert parquet_rows(resources["lake"].partition_dir("raw", "ads_events", day)) == 0
    kafka = resources["kafka"]
    assert sum(kafka.end_offsets(ADS_TOPIC).values()) == 0
    assert kafka.committed(LANDING_GROUP, ADS_TOPIC) == kafka.end_offsets(ADS_TOPIC)
    landed = result.asset_materializations_for_node("raw__ads_events")[0].metadata
    assert landed["dagster/row_count"].value == landed["landed"].value == 0
    ads = accounting(result, "ads_events")
    assert ads["passed"], ads
    terms = ("topic_messages", "landed", "clean_rows", "quarantined_rows", "duplicates", "dead_lettered")
    assert {k: ads[k] for k in terms} == dict.fromkeys(terms, 0), ads


def test_the_other_flows_hold_the_all_sample_day(live_ads_run):
    resources, result, _ = live_ads_run
    assert counts(resources, OTHER_TABLES) | sink_counts(resources) == SAMPLE_DAY
    for table in ("openaq_measurements", "randomuser_users"):
        assert accounting(result, table)["passed"], table


def test_a_skipped_day_is_pulled_whole_once_the_source_answers(tmp_path):
    """The skip records nothing in the pull's ledger: the same day pulled again with a source
    (here the sample one) publishes all of it, and the landing adds it to the empty day."""
    from assets.ads_events import ads_events_pull
    from assets.stream_landings import landing_of
    from assets.streams import ADS

    ads_events_landing = landing_of(ADS)
    from orchestration.resources.ads import AdEventsResource, sample_events
    from orchestration.resources.kafka import EmbeddedTopicLogResource
    from orchestration.resources.lake import LakeResource

    lake = LakeResource(root=str(tmp_path))
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    sizes = []
    for ads in (AdEventsResource(mode="live"), AdEventsResource(mode="sample")):
        result = dg.materialize(
            [ads_events_pull, ads_events_landing],
            partition_key=DAY,
            resources={"ads": ads, "lake": lake, "kafka": kafka},
        )
        assert result.success
        raw = parquet_rows(lake.partition_dir("raw", "ads_events", date.fromisoformat(DAY)))
        sizes.append((kafka.topic_size(ADS_TOPIC), kafka.topic_size(ADS_TOPIC + ".dlq"), raw))
    published = len(list(sample_events(date.fromisoformat(DAY)))) - 1  # one is dead-lettered
    assert sizes == [(0, 0, 0), (published, 1, published)]
