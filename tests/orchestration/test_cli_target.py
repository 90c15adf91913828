"""`dagster asset|job ...` gets the code location only when the user named none."""

import pytest

from orchestration.cli_target import MODULE, apply


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["/venv/bin/dagster", "asset", "materialize", "--select", "*"], MODULE),
        (["/venv/bin/dagster", "job", "list"], MODULE),
        (["/venv/bin/dagster", "asset", "materialize", "-m", "other.defs"], None),
        (["/venv/bin/dagster", "asset", "list", "--python-file=x.py"], None),
        (["/venv/bin/dagster", "dev", "-w", "workspace.yaml"], None),
        (["/venv/bin/dagster", "dev"], None),
        (["/venv/bin/python", "asset"], None),
        ([], None),
    ],
)
def test_sets_the_module_only_for_pointerless_asset_and_job_commands(argv, expected):
    env: dict[str, str] = {}
    apply(argv, env)
    assert env.get("DAGSTER_MODULE_NAME") == expected


def test_an_explicit_environment_wins():
    env = {"DAGSTER_MODULE_NAME": "mine"}
    apply(["dagster", "asset", "list"], env)
    assert env["DAGSTER_MODULE_NAME"] == "mine"


def test_asset_list_prints_no_beta_or_preview_warning_of_the_projects_own(tmp_path):
    """The two non-stable features the project uses knowingly are silenced by their exact
    messages (assets/partitions.py): `dagster asset list` is quiet, while another warning of the
    same classes, raised after the code location is loaded, still shows."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    # Python's default filters, as a user's shell has them (pytest's own filters are not inherited).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"} | {"DAGSTER_HOME": str(tmp_path)}
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "list"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "clean/openaq_measurements" in listed.stdout
    assert "BetaWarning" not in listed.stderr, listed.stderr[-2000:]
    assert "PreviewWarning" not in listed.stderr, listed.stderr[-2000:]

    other = "import warnings, dagster as dg, orchestration.definitions; warnings.warn('Parameter `x` is new', dg.BetaWarning); warnings.warn('Something else', dg.PreviewWarning)"
    shown = subprocess.run(
        [sys.executable, "-c", other], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "BetaWarning: Parameter `x` is new" in shown.stderr
    assert "PreviewWarning: Something else" in shown.stderr
