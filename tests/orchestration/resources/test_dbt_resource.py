"""The dbt resource skips dagster-dbt's `dbt --version` subprocess only where the answer is
known, and hands each invocation the parse state of the one before it."""

import json
import os
import re
import subprocess

from dagster_dbt import DbtCliResource

from assets.dbt_project import dbt_project
from orchestration.resources.dbt import DbtCoreCliResource


def test_the_version_read_from_the_package_is_what_the_executable_reports():
    resource = DbtCoreCliResource(project_dir=dbt_project, target="local")
    reported = subprocess.check_output([resource.dbt_executable, "--version"], text=True)
    assert str(resource._cli_version) == re.search(r"(\d+\.\d+\.\d+)", reported).group(1)
    assert resource._cli_version == DbtCliResource(project_dir=dbt_project, target="local")._cli_version


def parse_events(invocation) -> set[str]:
    log = (invocation.target_path / "dbt.log").read_text().splitlines()
    return {json.loads(line)["info"]["name"] for line in log if line.startswith("{")}


def test_a_later_invocation_reuses_the_parse_state_though_the_window_changed(tmp_path, monkeypatch):
    # A DATA_DIR of its own: the warehouse path differs from the one `make setup` parsed with.
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    resource = DbtCoreCliResource(project_dir=dbt_project, target="local", parse_state_dir=str(tmp_path / "state"))
    events = []
    for day in ("2026-11-20", "2026-11-21"):
        window = {"DBT_PARTITION_MIN_DATE": day, "DBT_PARTITION_MAX_DATE": day}
        invocation = resource.cli(["parse"], extra_env=window)
        assert invocation.wait().is_successful()
        resource.keep_parse_state(invocation)
        events.append(parse_events(invocation))
        assert "DBT_PARTITION_MIN_DATE" not in os.environ  # set for the subprocess only

    assert "UnableToPartialParse" in events[0]  # the first pays for the new warehouse path ...
    assert "UnableToPartialParse" not in events[1]  # ... the next one, with another window, does not
    assert "PartialParsingSkipParsing" in events[1]
