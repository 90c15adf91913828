"""Failure alerts against a real local HTTP receiver: a failed run and a failed check each post
one Slack-compatible message, a receiver error is retried, and no URL means no alerts."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from orchestration.alerts import check_failure_alerts, run_failure_alerts
from orchestration.resources.alerts import AlertWebhook
from tests.orchestration.live_instance import free_port

DAY = "2026-11-20"
days = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@pytest.fixture
def receiver():
    """A webhook receiver that answers with the queued statuses (then 200) and keeps each body."""
    state = {"statuses": [], "bodies": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["bodies"].append(json.loads(body))
            status = state["statuses"].pop(0) if state["statuses"] else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000"
    yield state
    server.shutdown()
    server.server_close()


@dg.asset(partitions_def=days)
def healthy_table() -> int:
    return 1


@dg.asset(partitions_def=days, deps=[healthy_table])
def broken_table() -> None:
    raise ValueError("warehouse refused the day\nsecond line that the alert leaves out")


@dg.asset_check(asset=healthy_table, blocking=True)
def rows_add_up() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="in 10 != clean 9 + quarantined 0")


@dg.asset_check(asset=healthy_table)
def quarantine_share() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.WARN, description="12% quarantined, above 5%"
    )


@dg.asset_check(asset=healthy_table)
def not_empty() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


defs = dg.Definitions(assets=[healthy_table, broken_table], asset_checks=[rows_add_up, quarantine_share, not_empty])


def failed_run(instance):
    result = dg.materialize([healthy_table, broken_table], partition_key=DAY, instance=instance, raise_on_error=False)
    assert not result.success
    return result


def run_failure_context(instance, result, url):
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": AlertWebhook(url=url, backoff_seconds=0.01)},
        repository_def=defs.get_repository_def(),
    ).for_run_failure()


def test_a_failed_run_posts_one_alert_with_asset_partition_step_and_first_error_line(receiver):
    with dg.instance_for_test() as instance:
        result = failed_run(instance)
        run_failure_alerts(run_failure_context(instance, result, receiver["url"]))

    assert len(receiver["bodies"]) == 1
    text = receiver["bodies"][0]["text"]
    assert result.run_id in text and f"partition {DAY}" in text
    assert "step `broken_table` (broken_table): ValueError: warehouse refused the day" in text
    assert "second line" not in text
    assert "healthy_table" not in text  # only the failed step is named


def test_a_receiver_error_is_retried_until_it_accepts(receiver):
    receiver["statuses"] = [503, 502]
    assert AlertWebhook(url=receiver["url"], backoff_seconds=0.01).post("run failed")
    assert [b["text"] for b in receiver["bodies"]] == ["run failed"] * 3


def test_a_receiver_that_stays_down_gives_up_without_raising(receiver):
    receiver["statuses"] = [500] * 5
    assert not AlertWebhook(url=receiver["url"], attempts=3, backoff_seconds=0.01).post("x")
    assert len(receiver["bodies"]) == 3


def test_a_refused_payload_is_not_repeated(receiver):
    receiver["statuses"] = [400]
    assert not AlertWebhook(url=receiver["url"], backoff_seconds=0.01).post("x")
    assert len(receiver["bodies"]) == 1


def test_an_unreachable_receiver_gives_up_without_raising():
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # a port the OS just handed out, closed again
    assert not AlertWebhook(url=nobody, attempts=2, backoff_seconds=0.01).post("x")


def test_no_url_means_alerts_are_off_and_the_log_says_so_once(caplog):
    import orchestration.resources.alerts as module

    module._said_off = False
    with caplog.at_level("WARNING"):
        assert not AlertWebhook(url=None).post("a")
        assert not AlertWebhook(url=None).post("b")
    assert [r.message for r in caplog.records].count("ALERT_WEBHOOK_URL is not set: failure alerts are off") == 1


def status_context(instance, run_id, url, status):
    event = next(
        e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type == status
    )
    return dg.build_run_status_sensor_context(
        sensor_name="alerts",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={"alerts": AlertWebhook(url=url, backoff_seconds=0.01)},
    )


def test_a_failed_check_of_a_successful_run_posts_one_alert(receiver):
    with dg.instance_for_test() as instance:
        result = dg.materialize([healthy_table, quarantine_share, not_empty], partition_key=DAY, instance=instance)
        assert result.success  # a warn-severity failure does not fail the run
        check_failure_alerts(status_context(instance, result.run_id, receiver["url"], dg.DagsterEventType.RUN_SUCCESS))

    assert len(receiver["bodies"]) == 1
    text = receiver["bodies"][0]["text"]
    assert result.run_id in text and "check failed (WARN): `healthy_table` `quarantine_share`" in text
    assert f"partition {DAY}: 12% quarantined, above 5%" in text and "not_empty" not in text


def test_a_blocking_check_that_fails_a_run_is_named_in_its_run_failure_alert(receiver):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [healthy_table, rows_add_up], partition_key=DAY, instance=instance, raise_on_error=False
        )
        assert not result.success
        context = status_context(instance, result.run_id, receiver["url"], dg.DagsterEventType.RUN_FAILURE)
        run_failure_alerts(context.for_run_failure())

    assert len(receiver["bodies"]) == 1
    text = receiver["bodies"][0]["text"]
    assert "check failed (ERROR): `healthy_table` `rows_add_up`" in text
    assert "in 10 != clean 9 + quarantined 0" in text
