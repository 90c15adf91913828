"""A copy of the project's tracked files with a few files added, run with the real CLI: how the
"adding a table" and "adding a stream" tests show that an addition needs those files alone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import WAIT_SECONDS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [f for f in listed.decode().split("\0") if f]


def copy_project(destination: Path, new_files: dict[str, str]) -> Path:
    """The tracked files copied into `destination`, plus `new_files` (path -> text)."""
    if not (ROOT / ".git").exists():
        pytest.fail("the test copies the project's tracked files: run it from a git clone")
    for name in tracked_files():
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination / name)
    for name, text in new_files.items():
        (destination / name).write_text(text.lstrip())
    return destination


def run(args: list[str], project: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        # First on the path, before the installed project: every import comes from the copy.
        "PYTHONPATH": str(project),
        "DATA_DIR": str(project / "data"),
        "DAGSTER_HOME": str(project / "home"),
        "DAGSTER_DEPLOYMENT": "local",
        "SOURCES_MODE": "sample",
    }
    env.pop("DAGSTER_MODULE_NAME", None)
    done = subprocess.run(args, cwd=cwd or project, env=env, capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done


def materialize(project: Path, selection: list[str], day: str) -> Path:
    """One run of `selection` for `day` in the copy, on a fresh instance, as the README's command."""
    (project / "home").mkdir()
    shutil.copy(project / "orchestration/instance/local.yaml", project / "home/dagster.yaml")
    run([str(BIN / "dbt"), "parse", "--quiet", "--target", "local"], project, cwd=project / "dbt")
    cli = [str(BIN / "dagster"), "asset", "materialize", "-m", "orchestration.definitions"]
    run([*cli, "--select", ",".join(selection), "--partition", day], project)
    return project
