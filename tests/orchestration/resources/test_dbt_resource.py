"""The dbt resource skips dagster-dbt's `dbt --version` subprocess only where the answer is known."""

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
