"""dbt through dagster-dbt, minus one subprocess per invocation.

Before every `dbt build` dagster-dbt runs `dbt --version` to learn which engine it drives (dbt-core
or Fusion): a second Python process importing dbt, 3-5 s of a small day's run. When the
executable is the `dbt` of this very environment, the installed dbt-core package states that
version; any other executable is still asked.
"""

import shutil
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version


class DbtCoreCliResource(DbtCliResource):
    """`DbtCliResource` that reads this environment's dbt-core version instead of running dbt."""

    @cached_property
    def _cli_version(self) -> version.Version:
        found = shutil.which(self.dbt_executable)
        if found and Path(found).parent == Path(sys.executable).parent:
            from dbt.version import __version__

            return version.parse(__version__)
        return super()._cli_version
