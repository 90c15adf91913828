"""Every dbt unit test of the project, run on a warehouse that a whole-graph run has built.

The orchestrated `dbt build` leaves the unit tests out (assets/dbt_models.py): their inputs are
fixed, so a day's data cannot change their verdict. They still need every parent of the model
they test to exist, because dbt reads the parents' columns to type the fixtures; so the suite
runs them where a run has just built every parent, once on each warehouse engine
(tests/assets/test_daily_graph.py on DuckDB, tests/assets/test_prod_warehouse.py on PostgreSQL).
"""

import datetime as dt

from dagster_dbt.dbt_manifest import validate_manifest

from assets.dbt_models import MANIFEST
from tests.dbt.test_dbt_ads import dbt_build


def project_unit_tests() -> set[str]:
    """The unique ids of every unit test in the project's manifest."""
    return set(validate_manifest(MANIFEST)["unit_tests"])


def run_unit_tests(warehouse, day: dt.date) -> dict[str, str]:
    """Every unit test through `dbt test` on `warehouse` (tests/dbt/test_dbt_ads.py's DuckDB or
    Postgres), the window of `day` set as a run sets it; returns each one's status by unique id.
    (`dbt build` runs a unit test only with its model, so it would build the model too.)"""
    results = dbt_build(warehouse, day, ["--select", "test_type:unit"], command="test")
    return {r["unique_id"]: r["status"] for r in results}
