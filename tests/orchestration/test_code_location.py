"""Every command finds the one code location the way Dagster documents it, and no interpreter of the
environment imports project code at start (no `.pth` hook: Spark workers and dbt start clean)."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULE = "orchestration.definitions"
PROJECT_PACKAGES = ("orchestration", "assets", "spark")


def _env_without_a_location(home: Path) -> dict[str, str]:
    # Python's default warning filters, as a user's shell has them (pytest's are not inherited).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "DAGSTER_MODULE_NAME")}
    return env | {"DAGSTER_HOME": str(home)}


def test_a_plain_interpreter_of_the_environment_imports_no_project_code(tmp_path):
    # The interpreter Spark's Python workers and dbt run on (PYSPARK_PYTHON is .venv/bin/python).
    probe = f"import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {PROJECT_PACKAGES!r}))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=_env_without_a_location(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_every_place_names_the_same_code_location():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    assert pyproject == {"module_name": MODULE, "code_location_name": "airstream"}
    (entry,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    assert entry["python_module"]["module_name"] == MODULE
    assert entry["python_module"]["location_name"] == "airstream"
    # `make run` names the module: `dagster asset materialize` does not read pyproject.toml.
    (materialize,) = re.findall(r".*dagster asset materialize.*", (REPO / "Makefile").read_text())
    assert f" -m {MODULE} " in materialize
    # The compose code server, and `docker compose exec dagster-code dagster asset ...` (README),
    # which reads the variable; the webserver and daemon name their workspace file instead, and
    # Dagster refuses a module name next to one, so the variable is that service's alone.
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    command = services["dagster-code"]["command"]
    assert command[command.index("-m") + 1] == MODULE
    assert services["dagster-code"]["environment"]["DAGSTER_MODULE_NAME"] == MODULE
    for name, service in services.items():
        if name != "dagster-code":
            assert "DAGSTER_MODULE_NAME" not in (service.get("environment") or {}), name
    instructions = (REPO / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    env_lines = [line for line in instructions if line.startswith("ENV ")]
    assert env_lines and not any("DAGSTER_MODULE_NAME" in line for line in env_lines)


def test_asset_commands_read_no_pyproject_so_the_module_is_named(tmp_path):
    """Dagster 1.13's `dagster asset ...` ignores `[tool.dagster]`: with no flag and no variable it
    refuses. If a later Dagster reads pyproject.toml here, this fails and `-m` can go."""
    done = subprocess.run(
        [str(BIN / "dagster"), "asset", "list"],
        cwd=REPO,
        env=_env_without_a_location(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout[-2000:]
    assert "Invalid set of CLI arguments for loading repository/job" in done.stderr


def test_asset_list_prints_no_beta_or_preview_warning_of_the_projects_own(tmp_path):
    """The two non-stable features the project uses knowingly are silenced by their exact
    messages (assets/partitions.py): `dagster asset list` is quiet, while another warning of the
    same classes, raised after the code location is loaded, still shows. The location comes from
    DAGSTER_MODULE_NAME, as in the compose code server (`make run` and tests/orchestration/test_dead_runs.py
    pass `-m`)."""
    env = _env_without_a_location(tmp_path) | {"DAGSTER_MODULE_NAME": MODULE}
    listed = subprocess.run(
        [str(BIN / "dagster"), "asset", "list"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "clean/openaq_measurements" in listed.stdout
    assert "BetaWarning" not in listed.stderr, listed.stderr[-2000:]
    assert "PreviewWarning" not in listed.stderr, listed.stderr[-2000:]

    other = "import warnings, dagster as dg, orchestration.definitions; warnings.warn('Parameter `x` is new', dg.BetaWarning); warnings.warn('Something else', dg.PreviewWarning)"
    shown = subprocess.run(
        [sys.executable, "-c", other], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "BetaWarning: Parameter `x` is new" in shown.stderr
    assert "PreviewWarning: Something else" in shown.stderr
