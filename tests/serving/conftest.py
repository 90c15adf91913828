"""A warehouse and a Dagster instance built by the real pipeline, once per test session.

`dagster asset materialize` for one day on the local profile, as `make run` does, into a
temporary DATA_DIR and DAGSTER_HOME: the API reads its marts, the exporter its instance,
topics and warehouse.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import WAIT_SECONDS

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-20"


@pytest.fixture(scope="session")
def pipeline_day(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    data_dir, home = root / "data", root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "orchestration/instance/local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(home),
        "DAGSTER_DEPLOYMENT": "local",
        "SOURCES_MODE": "sample",
        "DO_NOT_TRACK": "1",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "orchestration.definitions"]
        + ["--select", "*", "--partition", DAY],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return {
        "data_dir": data_dir,
        "dagster_home": home,
        "day": DAY,
        "warehouse": data_dir / "warehouse.duckdb",
        "env": env,
    }
