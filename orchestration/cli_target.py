"""Lets `dagster asset materialize` / `dagster job ...` find the code location with no flags.

`dagster dev` reads `[tool.dagster]` from pyproject.toml, but in Dagster 1.13 the `asset` and
`job` commands only take -m/-f or DAGSTER_MODULE_NAME. The `airstream_cli_target.pth` file that
the package installs runs `apply()` at interpreter start-up; it sets DAGSTER_MODULE_NAME for
those commands alone, only when no code location was named, so no other command is affected
(`dagster dev -w workspace.yaml` would refuse a module name next to a workspace file).
"""

import os
import sys

MODULE = "orchestration.definitions"
_POINTER_FLAGS = (
    "-m",
    "--module-name",
    "-f",
    "--python-file",
    "-d",
    "--package-name",
    "-a",
    "--attribute",
    "--autoload-defs-module-name",
    "-w",
    "--workspace",
)


def apply(argv: list[str] | None = None, environ=os.environ) -> None:
    argv = sys.argv if argv is None else argv
    if not argv or os.path.basename(argv[0]) != "dagster" or len(argv) < 2:
        return
    if argv[1] not in ("asset", "job"):
        return
    if any(arg.split("=")[0] in _POINTER_FLAGS for arg in argv[2:]):
        return
    environ.setdefault("DAGSTER_MODULE_NAME", MODULE)
