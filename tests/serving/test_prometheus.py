"""A real Prometheus (Debian's) scrapes the exporter and the API after a real pipeline day;
PromQL answers carry the figures the data holds, and every dashboard query has series."""

import json
import shutil
import sqlite3
import time
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from tests.serving.services import free_port, get, process, promql, python_module
from tests.waiting import log_tails, wait_until

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "orchestration/instance/grafana/dashboards").glob("*.json"))


@pytest.fixture(scope="module")
def stack(pipeline_day, tmp_path_factory):
    """Exporter, API (with a Redis cache) and Prometheus scraping both every 3 s."""
    prometheus = shutil.which("prometheus")
    redis_server = shutil.which("redis-server")
    assert prometheus, "prometheus is not installed (.ci/run installs Debian's package)"
    assert redis_server, "redis-server is not installed (.ci/run installs Debian's package)"
    tmp = tmp_path_factory.mktemp("prometheus")
    ports = {name: free_port() for name in ("exporter", "api", "redis", "prometheus")}
    env = {
        **pipeline_day["env"],
        "METRICS_PORT": str(ports["exporter"]),
        "METRICS_DAYS": "0",
        "API_PORT": str(ports["api"]),
        "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
    }
    # The shipped config, with the compose service names swapped for the local ports.
    config = yaml.safe_load((REPO / "orchestration/instance/prometheus.yml").read_text())
    # Every 3 s: a scrape reads the instance, which takes about a second on a busy 2-core machine.
    config["global"]["scrape_interval"] = "3s"
    targets = {"airstream-platform": ports["exporter"], "airstream-api": ports["api"]}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{targets[job['job_name']]}"]}]
        job["scrape_timeout"] = "3s"
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(REPO / "orchestration/instance/prometheus-rules.yml", tmp)  # its rule_files, beside it
    base = f"http://127.0.0.1:{ports['prometheus']}"
    with (
        process(
            [redis_server, "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"],
            tmp / "redis.log",
            ready_port=ports["redis"],
        ),
        process(
            python_module("orchestration.serving.exporter"),
            tmp / "exporter.log",
            ready_url=f"http://127.0.0.1:{ports['exporter']}/metrics",
            env=env,
        ),
        process(
            python_module("orchestration.serving.api"),
            tmp / "api.log",
            ready_url=f"http://127.0.0.1:{ports['api']}/health",
            env=env,
        ),
        process(
            [
                prometheus,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            ],
            tmp / "prometheus.log",
            ready_url=f"{base}/-/ready",
        ),
    ):
        api = f"http://127.0.0.1:{ports['api']}"

        def scraped_three_times_with_traffic() -> bool:
            # Traffic while Prometheus scrapes, so rates have two samples: misses, hits, 4xx.
            for path in ("/v1/locations?limit=5", "/v1/air-quality/daily?limit=10", "/v1/users/by-country/daily"):
                get(api + path)
            try:
                get(api + "/v1/locations?limit=0")
            except OSError:
                pass  # the 400 is the point: it is traffic Prometheus must count
            return all(
                promql(base, f'count_over_time(up{{job="{job}"}}[1m]) >= 3')
                for job in ("airstream-api", "airstream-platform")
            )

        wait_until(
            "three scrapes of both targets", scraped_three_times_with_traffic, log_tails(tmp / "prometheus.log"), 0.5
        )
        yield base, pipeline_day


def value(base: str, query: str) -> float:
    result = promql(base, query)
    assert len(result) == 1, (query, result)
    return float(result[0]["value"][1])


def test_targets_are_up(stack):
    base, _ = stack
    assert {r["metric"]["job"]: r["value"][1] for r in promql(base, "up")} == {
        "airstream-platform": "1",
        "airstream-api": "1",
    }
    assert value(base, "min(airstream_exporter_source_up)") == 1


def test_row_counts_per_asset_and_day_match_the_data(stack):
    base, run = stack
    day, data = run["day"], run["data_dir"]
    landed = sum(
        pq.ParquetFile(p).metadata.num_rows for p in (data / "raw/openaq_measurements" / f"day={day}").glob("*.parquet")
    )
    with duckdb.connect(str(run["warehouse"]), read_only=True) as con:
        clean = con.execute("select count(*) from clean.openaq_measurements where measured_on = ?", [day]).fetchone()[0]
        quarantined = con.execute(
            "select count(*) from clean.openaq_measurements_quarantine where partition_day = ?", [day]
        ).fetchone()[0]
        marts = dict(
            con.execute(
                "select 'fct_measurements', count(*) from marts.fct_measurements union all "
                "select 'agg_air_quality_daily', count(*) from marts.agg_air_quality_daily"
            ).fetchall()
        )
    rows = f'airstream_asset_rows{{day="{day}",asset='
    assert landed > 0 and clean > 0
    assert value(base, rows + '"raw/openaq_measurements",measure="landed"}') == landed
    assert value(base, rows + '"clean/openaq_measurements",measure="raw_rows"}') == landed
    assert value(base, rows + '"clean/openaq_measurements",measure="clean_rows"}') == clean
    assert value(base, rows + '"clean/openaq_measurements",measure="quarantined_rows"}') == quarantined
    for table, n in marts.items():
        assert value(base, f'airstream_mart_rows{{table="{table}"}}') == n


def test_lag_end_offsets_and_dlq_match_the_topic_log(stack):
    base, run = stack
    with sqlite3.connect(run["data_dir"] / "topics.sqlite") as con:
        ends = dict(
            ((t, str(p)), n)
            for t, p, n in con.execute("select topic, partition, max(last_offset) + 1 from batches group by 1, 2")
        )
        dlq = dict(
            con.execute(
                "select topic, sum(last_offset - base_offset + 1) from batches where topic like '%.dlq' group by 1"
            )
        )
    seen = {
        (r["metric"]["topic"], r["metric"]["partition"]): float(r["value"][1])
        for r in promql(base, "airstream_topic_end_offset")
    }
    assert seen == {k: v for k, v in ends.items() if not k[0].endswith(".dlq")}
    # `dagster asset materialize` commits as the run's last step: the group is at the end.
    lag = {
        (r["metric"]["topic"], r["metric"]["partition"]): float(r["value"][1])
        for r in promql(base, "airstream_consumer_lag")
    }
    assert lag == {k: 0.0 for k in seen}
    committed = {
        (r["metric"]["topic"], r["metric"]["partition"]): float(r["value"][1])
        for r in promql(base, "airstream_consumer_committed_offset")
    }
    assert committed == seen
    for topic in ("openaq.measurements", "randomuser.users"):
        assert value(base, f'airstream_dlq_messages{{topic="{topic}"}}') == dlq.get(f"{topic}.dlq", 0)


def test_freshness_checks_and_runs_match_the_instance(stack):
    base, run = stack
    with dg.DagsterInstance.from_config(str(run["dagster_home"])) as instance:
        key = dg.AssetKey(["marts", "agg_air_quality_daily"])
        stamp = instance.get_latest_materialization_event(key).timestamp
        succeeded = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
    asset = '{asset="marts/agg_air_quality_daily"}'
    assert value(base, f"airstream_asset_last_materialization_timestamp_seconds{asset}") == pytest.approx(stamp)
    # The age Prometheus last scraped is at most the age now.
    assert 0 < value(base, f"airstream_asset_materialization_age_seconds{asset}") <= time.time() - stamp
    assert succeeded == 1 and value(base, 'airstream_runs{status="SUCCESS"}') == 1
    assert value(base, 'airstream_runs{status="FAILURE"}') == 0
    assert value(base, 'sum(airstream_run_duration_seconds_count{status="SUCCESS"})') == 1
    # The failing checks of a sample day: the ad sample's unknown campaign (C999), a warning on
    # the events and on their daily aggregate.
    failing = {r["metric"]["asset"]: float(r["value"][1]) for r in promql(base, "airstream_asset_checks_failing > 0")}
    assert failing == {"marts/agg_campaign_daily": 1.0, "staging/stg_ads__events": 1.0}
    assert value(base, "count(airstream_asset_check_passed)") > 10


def test_api_series_count_requests_and_cache_hits(stack):
    base, _ = stack
    assert value(base, 'sum(airstream_api_requests_total{route="/v1/locations",status="200"})') > 1
    assert value(base, 'sum(airstream_api_requests_total{route="/v1/locations",status=~"4.."})') >= 1
    assert value(base, 'sum(airstream_api_cache_requests_total{result="hit"})') >= 1
    assert value(base, 'sum(airstream_api_cache_requests_total{result="miss"})') >= 3
    assert value(base, "sum(airstream_api_request_duration_seconds_count)") > 0


def _targets(dashboard: dict):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"].replace("$__rate_interval", "1m")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_query_returns_series(stack, path):
    base, _ = stack
    dashboard = json.loads(path.read_text())
    provisioned = yaml.safe_load(
        (REPO / "orchestration/instance/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    assert dashboard["uid"] and dashboard["panels"]
    empty = []
    for title, expr in _targets(dashboard):
        assert all(t["datasource"]["uid"] == uid for p in dashboard["panels"] for t in p["targets"])
        if not promql(base, expr):
            empty.append((title, expr))
    assert not empty, f"dashboard queries with no series: {empty}"
