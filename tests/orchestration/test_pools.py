"""The `spark` pool on a real local instance (orchestration/instance/local.yaml, SQLite, the
daemon and the webserver as `dagster dev` runs them): a UI backfill's run and a
`dagster asset materialize` run are in flight at once, and their Spark steps never overlap.

Deterministic, not timed: the backfill's step holds the slot until the CLI's step is seen
waiting in the pool, then is released; without the pool the CLI's step would have started
while the first was held, and the test would fail waiting for it to queue."""

import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import requests

from tests.orchestration.live_instance import free_port, graphql_ready, process, wait_for
from tests.waiting import WAIT_SECONDS

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "tests.orchestration.pool_location"
LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


def step_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """(STEP_START, STEP_SUCCESS) timestamps of the run's one step, from the event log."""
    records = instance.get_records_for_run(run_id, of_type={dg.DagsterEventType.STEP_START}).records
    (start,) = [r.event_log_entry.timestamp for r in records]
    records = instance.get_records_for_run(run_id, of_type={dg.DagsterEventType.STEP_SUCCESS}).records
    (end,) = [r.event_log_entry.timestamp for r in records]
    return start, end


def test_a_backfill_run_and_a_cli_run_never_run_spark_steps_at_once(tmp_path):
    home, probe_dir = tmp_path / "dagster_home", tmp_path / "probe"
    home.mkdir()
    probe_dir.mkdir()
    shutil.copy(REPO / "orchestration/instance/local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POOL_PROBE_DIR": str(probe_dir),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DO_NOT_TRACK": "1",
    }
    env.pop("DAGSTER_MODULE_NAME", None)
    port = free_port()
    logs = [tmp_path / name for name in ("webserver.log", "daemon.log", "cli.log")]
    webserver = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-m", LOCATION]
    daemon = [str(BIN / "dagster-daemon"), "run", "-m", LOCATION]
    cli = [str(BIN / "dagster"), "asset", "materialize", "-m", LOCATION, "--select", "spark_probe"]

    with ExitStack() as stack:
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        pool_config = instance.get_concurrency_config().pool_config
        assert pool_config.default_pool_limit == 1 and pool_config.pool_granularity.value == "op"

        stack.enter_context(process(webserver, env, logs[0]))
        wait_for("webserver", lambda: graphql_ready(port), logs)
        # What the UI sends for "Materialize selected" over a partition: an asset backfill.
        answer = requests.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": LAUNCH_BACKFILL,
                "variables": {
                    "params": {"assetSelection": [{"path": ["spark_probe"]}], "partitionNames": ["2026-11-20"]}
                },
            },
            timeout=60,
        ).json()
        result = answer["data"]["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", answer
        # The daemon starts after the backfill exists, so its first backfill pass launches it.
        stack.enter_context(process(daemon, env, logs[1]))

        started = lambda: sorted(p.stem for p in probe_dir.glob("*.started"))  # noqa: E731
        (backfill_run_id,) = wait_for("backfill run holding the spark slot", started, logs)
        assert instance.get_run_by_id(backfill_run_id).tags["dagster/backfill"] == result["backfillId"]

        cli_run = stack.enter_context(process([*cli, "--partition", "2026-11-21"], env, logs[2]))

        def cli_step_waits() -> set[str]:
            info = instance.event_log_storage.get_concurrency_info("spark")
            return info.pending_run_ids - {backfill_run_id}

        (cli_run_id,) = wait_for("the CLI run's step waiting in the spark pool", cli_step_waits, logs)
        assert started() == [backfill_run_id], "the CLI's step did not start while the slot was held"
        assert instance.event_log_storage.get_concurrency_info("spark").active_run_ids == {backfill_run_id}
        (probe_dir / "release").touch()

        assert cli_run.wait(timeout=WAIT_SECONDS) == 0, logs[2].read_text()
        wait_for(
            "successful backfill run",
            lambda: instance.get_run_by_id(backfill_run_id).status == dg.DagsterRunStatus.SUCCESS,
            logs,
        )
        assert instance.get_run_by_id(cli_run_id).status == dg.DagsterRunStatus.SUCCESS
        assert "dagster/backfill" not in instance.get_run_by_id(cli_run_id).tags

        first, second = (
            (float((probe_dir / f"{run}.started").read_text()), float((probe_dir / f"{run}.finished").read_text()))
            for run in (backfill_run_id, cli_run_id)
        )
        assert first[1] <= second[0], (first, second)  # the steps' own clocks
        first_step, second_step = step_window(instance, backfill_run_id), step_window(instance, cli_run_id)
        assert first_step[1] <= second_step[0], (first_step, second_step)  # the event log's
