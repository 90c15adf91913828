"""The dbt project and its manifest (kept free of relative imports, so
`dagster-dbt project prepare-and-package --file assets/dbt_project.py` can load it).

Importing this module parses nothing: `make` builds the manifest (`dbt parse`, about 5 s) and
the Docker image carries one. Under `dagster dev` dagster-dbt re-parses on load so edits to the
dbt project show up; anywhere else a missing manifest is a clear error naming the fix.
"""

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"

# `.venv/bin/dagster ...` runs without the venv on PATH; dagster-dbt looks `dbt` up on PATH,
# so make the interpreter's own bin directory findable.
if shutil.which("dbt") is None:
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class DbtManifestMissing(RuntimeError):
    """The dbt manifest has not been built: the dbt assets cannot be defined without it."""


def require_manifest() -> Path:
    """The manifest's path, parsed first under `dagster dev` (dagster-dbt's development hook)."""
    dbt_project.prepare_if_dev()
    if not dbt_project.manifest_path.exists():
        raise DbtManifestMissing(
            f"no dbt manifest at {dbt_project.manifest_path}: run `make setup` (or "
            "`cd dbt && dbt parse --target local`), or start the UI with `make dev` / `dagster dev`,"
            " which parse the project first"
        )
    return dbt_project.manifest_path
