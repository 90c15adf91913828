"""The dbt project and its manifest (kept free of relative imports, so
`dagster-dbt project prepare-and-package --file assets/dbt_project.py` can load it)."""

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

# `make` builds the manifest, but a user who runs `dagster ...` straight from a fresh clone
# must not meet DagsterDbtManifestNotFoundError either: parse once (about 5 s) when missing.
if dbt_project.manifest_path.exists():
    dbt_project.prepare_if_dev()
else:
    dbt_project.preparer.prepare(dbt_project)
