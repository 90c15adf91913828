"""The exporter's figures: pure day accounting, a real Dagster instance with a failed and a
queued run, a source that is down, and nothing materialized yet; and the held messages of a
small lake, with the alert rule on them."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id
from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from orchestration.serving.exporter import PlatformCollector
from orchestration.serving.platform_metrics import TopicSample, day_rows, topic_families
from orchestration.serving.settings import ServingSettings
from tests.orchestration.kafka.test_held_messages import SOON, held_lake, release

DAY = "2026-11-20"
REPO = Path(__file__).resolve().parents[2]


def whole(landed, dead=0):
    return {"mode": "whole day", "ranges": [], "per_day": {DAY: {"landed": landed, "dead_lettered": dead, "ranges": 3}}}


def ranged(ranges, landed, dead=0):
    return {"mode": "ranges", "ranges": ranges, "per_day": {DAY: {"landed": landed, "dead_lettered": dead}}}


@pytest.mark.parametrize(
    "newest_first, expected",
    [
        ([whole(10, 1), whole(7)], {"landed": 10, "dead_lettered": 1}),  # the latest whole day wins
        # Range runs add their files to the day the last whole-day run started afresh.
        (
            [ranged(["t/0/5-9"], 4), ranged(["t/0/0-5"], 5, 1), whole(99), whole(50)],
            {"landed": 108, "dead_lettered": 1},
        ),
        ([ranged(["t/0/0-5"], 5), ranged(["t/0/0-5"], 5)], {"landed": 5, "dead_lettered": 0}),  # a replay counts once
        ([{"per_day": {"2026-11-19": {"landed": 3}}}], {}),  # another day's metadata
        (
            [{"raw_rows": 3, "per_day": {DAY: {"raw_rows": 3, "clean_rows": 2, "quarantine_reasons": {"x": 1}}}}],
            {"raw_rows": 3, "clean_rows": 2},
        ),  # clean steps: whole day; nested dicts are not counts
    ],
)
def test_day_rows(newest_first, expected):
    assert day_rows(newest_first, DAY) == expected


def test_lag_is_end_minus_committed_per_partition():
    (end, committed, lag, dlq) = topic_families([TopicSample("t", {0: 10, 1: 4}, {0: 7}, dlq_size=2)], "g")
    assert [(s.labels["partition"], s.value) for s in lag.samples] == [("0", 3), ("1", 4)]
    assert [s.value for s in committed.samples] == [7, 0]
    assert [s.value for s in dlq.samples] == [2]


def scrape(collector) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@dg.asset
def boom():
    raise RuntimeError("the source is down")


def test_failed_and_queued_runs_report_and_a_missing_warehouse_blanks_only_itself(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        assert not dg.materialize([boom], instance=instance, raise_on_error=False).success
        # A run enqueued as the run queue does it (a run of a code location; none is loaded here).
        origin = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("airstream"), "__repository__")
        queued = instance.add_run(
            DagsterRun(job_name="daily", run_id=make_new_run_id(), remote_job_origin=origin.get_job_origin("daily"))
        )
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_ENQUEUED.value, job_name="daily"), run_id=queued.run_id
        )
        settings = ServingSettings(data_dir=tmp_path, duckdb_path=tmp_path / "warehouse.duckdb", metrics_days=0)
        metrics = scrape(PlatformCollector(settings, instance))
    assert metrics[("airstream_runs", (("status", "FAILURE"),))] == 1
    assert metrics[("airstream_runs", (("status", "QUEUED"),))] == 1
    assert metrics[("airstream_runs", (("status", "SUCCESS"),))] == 0
    assert (
        metrics[("airstream_run_duration_seconds_count", (("job", "__ephemeral_asset_job__"), ("status", "FAILURE")))]
        == 1
    )
    up = {labels[0][1]: v for (name, labels), v in metrics.items() if name == "airstream_exporter_source_up"}
    assert up == {"dagster_assets": 1, "dagster_checks": 1, "dagster_runs": 1, "topics": 1, "lake": 1, "warehouse": 0}
    assert not [k for k in metrics if k[0] == "airstream_asset_last_materialization_timestamp_seconds"]
    # No topic exists yet: no partitions to report, and empty dead-letter topics.
    assert not [k for k in metrics if k[0] == "airstream_consumer_lag"]
    assert metrics[("airstream_dlq_messages", (("topic", "openaq.measurements"),))] == 0


def held_metrics(metrics: dict) -> dict:
    return {
        (name.removeprefix("airstream_held_"), dict(labels).get("topic"), dict(labels).get("day")): v
        for (name, labels), v in metrics.items()
        if name.startswith("airstream_held_")
    }


def test_held_messages_overdue_and_released_from_a_small_lake(tmp_path):
    """The lake of tests/orchestration/kafka/test_held_messages.py: 2099-11-22's three held messages
    moved into their day, 2099-11-25's two still held; read at its end plus 2 days, and 1 s more."""
    kafka, lake = held_lake(tmp_path)
    assert release(kafka, lake, SOON) == 3
    settings = ServingSettings(data_dir=tmp_path, duckdb_path=tmp_path / "warehouse.duckdb", metrics_days=0)
    later_start = datetime(2099, 11, 25, tzinfo=UTC).timestamp()
    at_threshold = later_start + 3 * 86400  # LATER ended on the 26th: exactly 2 days later
    with dg.DagsterInstance.ephemeral() as instance:
        below = scrape(PlatformCollector(settings, instance, now=lambda: datetime.fromtimestamp(at_threshold, UTC)))
        above = scrape(PlatformCollector(settings, instance, now=lambda: datetime.fromtimestamp(at_threshold + 1, UTC)))
    openaq, users, ads = "openaq.measurements", "randomuser.users", "ads.events"
    assert held_metrics(above) == {
        ("messages", openaq, None): 2,
        ("messages", users, None): 0,
        ("messages", ads, None): 0,
        ("oldest_day_timestamp_seconds", openaq, None): later_start,
        ("overdue_messages", openaq, None): 2,
        ("overdue_messages", users, None): 0,
        ("overdue_messages", ads, None): 0,
        ("released_messages", openaq, "2099-11-22"): 3,
    }
    assert held_metrics(below) == {**held_metrics(above), ("overdue_messages", openaq, None): 0}
    assert above[("airstream_exporter_source_up", (("source", "lake"),))] == 1

    # The alert rule fires on exactly that series being above 0 (for 15 minutes).
    rules = yaml.safe_load((REPO / "orchestration/instance/prometheus-rules.yml").read_text())
    (rule,) = [r for group in rules["groups"] for r in group["rules"] if r["alert"] == "HeldMessagesOverdue"]
    assert (rule["expr"], rule["labels"]["severity"]) == ("airstream_held_overdue_messages > 0", "warning")
    prometheus = yaml.safe_load((REPO / "orchestration/instance/prometheus.yml").read_text())
    assert prometheus["rule_files"] == ["prometheus-rules.yml"]
