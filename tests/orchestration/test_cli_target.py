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
