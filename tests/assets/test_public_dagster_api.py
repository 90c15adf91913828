"""The platform's code uses Dagster's public API only: `dagster._...` (and `dagster_dbt._...` etc.)
modules are internals that change between releases without notice. Tests may still build
internal objects (fake events, run records) to drive the code."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestration", "assets", "spark")


def _private_dagster_module(name: str) -> bool:
    top, _, rest = name.partition(".")
    return (top == "dagster" or top.startswith("dagster_")) and rest.startswith("_")


def private_dagster_imports(source: str, path: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from dagster import _core` reaches the same internals as `import dagster._core`.
            names = (
                [node.module]
                if _private_dagster_module(node.module)
                else [f"{node.module}.{a.name}" for a in node.names]
            )
        else:
            continue
        found += [f"{path}:{node.lineno} {name}" for name in names if _private_dagster_module(name)]
    return found


def test_no_module_of_the_platform_imports_dagster_internals():
    files = sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))
    assert len(files) > 50  # the three packages were found
    found = [hit for path in files for hit in private_dagster_imports(path.read_text(), str(path.relative_to(REPO)))]
    assert found == []


def test_the_rule_sees_every_spelling_of_an_internal_import():
    source = "\n".join(
        [
            "import dagster as dg",
            "from dagster import AssetKey",
            "import dagster._core.events",
            "from dagster._core.event_api import RunStatusChangeRecordsFilter",
            "from dagster import _check",
            "from dagster_dbt._internal import x",
            "import dagster_dbt",
            "from .dagster._x import y",  # relative: a project module, not Dagster
        ]
    )
    assert private_dagster_imports(source, "m.py") == [
        "m.py:3 dagster._core.events",
        "m.py:4 dagster._core.event_api",
        "m.py:5 dagster._check",
        "m.py:6 dagster_dbt._internal",
    ]
