"""A run killed outright (SIGKILL, as an OOM kill or a crash would) inside a pool step never
blocks the next run: `make run` first releases runs whose process is gone, marking them failed
and freeing their pool slots. On a real local instance (orchestration/instance/local.yaml)."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.dead_runs import release_dead_runs
from tests.orchestration.live_instance import process, wait_for
from tests.waiting import WAIT_SECONDS

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "tests.orchestration.pool_location"


@pytest.mark.parametrize(("pool", "asset"), [("spark", "spark_probe"), ("warehouse", "warehouse_probe")])
def test_a_run_killed_inside_a_pool_step_does_not_block_the_next(tmp_path, pool, asset):
    home, probe_dir = tmp_path / "dagster_home", tmp_path / "probe"
    home.mkdir()
    probe_dir.mkdir()
    shutil.copy(REPO / "orchestration/instance/local.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "POOL_PROBE_DIR": str(probe_dir), "DO_NOT_TRACK": "1"}
    env.pop("DAGSTER_MODULE_NAME", None)
    cli = [str(BIN / "dagster"), "asset", "materialize", "-m", LOCATION, "--select", asset, "--partition", "2026-11-20"]
    log = tmp_path / "first.log"

    with dg.DagsterInstance.from_config(str(home)) as instance:
        with process(cli, env, log, signal.SIGKILL) as first:
            (started,) = wait_for("the first run inside its step", lambda: list(probe_dir.glob("*.started")), [log])
            run_id = started.stem
            assert release_dead_runs(instance) == [], "a live run is left alone"
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        # What the kill leaves: a run that looks in flight, and its slot claimed in the pool.
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info(pool).active_run_ids == {run_id}

        # `make run`'s first step, and the README's command for a stuck slot.
        released = subprocess.run(
            [sys.executable, "-m", "orchestration.dead_runs"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
        )
        assert released.returncode == 0, released.stderr
        assert released.stdout.count("is gone; marked failed") == 1, released.stdout
        assert f"run {run_id} (__ASSET_JOB): process {first.pid} is gone" in released.stdout
        assert f"pool slots freed: {pool}" in released.stdout
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info(pool).active_run_ids == set()

        (probe_dir / "release").touch()
        second = subprocess.run(cli, cwd=REPO, env=env, capture_output=True, text=True, timeout=WAIT_SECONDS)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        (second_run,) = [r for r in instance.get_runs() if r.run_id != run_id]
        assert second_run.status == dg.DagsterRunStatus.SUCCESS
        assert release_dead_runs(instance) == []
