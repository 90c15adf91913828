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


def test_earlier_invocation_dirs_are_pruned_past_the_newest_and_once_old(tmp_path):
    resource = DbtCoreCliResource(project_dir=dbt_project, target="local", kept_invocation_dirs=2)
    now = 1_000_000_000.0
    ages = {"dbt_models-aaaaaaa-0000001": 10, "dbt_models-aaaaaaa-0000002": 9, "0000003": 8}
    ages |= {"dbt_models-bbbbbbb-0000004": 0.5, "dbt_models-bbbbbbb-0000005": 0.1, "dbt_models-bbbbbbb-0000006": 0}
    for name, hours in ages.items():
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (now - hours * 3600, now - hours * 3600))
    (tmp_path / "compiled").mkdir()  # dbt's own folders are never touched
    os.utime(tmp_path / "compiled", (0, 0))

    class Finished:
        target_path = tmp_path / "dbt_models-bbbbbbb-0000006"

    removed = resource.prune_invocation_dirs(Finished(), now=now)

    # The two newest stay; of the rest, those younger than six hours stay too.
    assert sorted(p.name for p in removed) == ["0000003", "dbt_models-aaaaaaa-0000001", "dbt_models-aaaaaaa-0000002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "compiled",
        "dbt_models-bbbbbbb-0000004",
        "dbt_models-bbbbbbb-0000005",
        "dbt_models-bbbbbbb-0000006",
    ]
