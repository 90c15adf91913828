"""Adding a clean table is one asset module and one dbt model (its .sql and .yml), beside the
new transform itself in spark/: no registry, no path, no table name to keep in step elsewhere.

The test copies the project, adds exactly those files to the copy, and materializes one day of
the new table and its staging model from the copy with the real CLI: the table lands in the
lake and the warehouse, dbt reads it, and the lineage runs raw -> clean -> staging.
"""

import json
from pathlib import Path

import duckdb
import pytest

from tests.orchestration.project_copy import BIN, copy_project, materialize, run, tracked_files

DAY = "2026-11-20"

TRANSFORM = '''
"""Location names per catalogue snapshot day; a location without a name is quarantined.
`day` is the run's days as a column (spark/transforms/days.py): the flag keeps `partition_day`."""

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def flag_names(raw: DataFrame, day: date) -> DataFrame:
    name = F.get_json_object("payload", "$.name")
    return raw.select(
        "partition_day",
        "location_id",
        "payload",
        name.alias("location_name"),
        F.lit(day).alias("snapshot_on"),
        F.when(name.isNull() | (F.trim(name) == ""), F.lit("missing_name")).alias("reason"),
    )


def keep_names(flagged: DataFrame) -> DataFrame:
    return flagged.where("reason is null").dropDuplicates(["partition_day", "location_id"]).select("location_id", "location_name", "snapshot_on")


def reject_names(flagged: DataFrame, day: date) -> DataFrame:
    return flagged.where("reason is not null").select("payload", "reason", F.lit(day).alias("partition_day"))
'''

ASSET_MODULE = '''
"""Location names per catalogue snapshot day."""

from assets.clean_zone import CleanStep, clean_asset
from spark.transforms.location_names import flag_names, keep_names, reject_names

NAMES = CleanStep(
    raw=("raw", "openaq_locations"),
    clean=("clean", "openaq_location_names"),
    quarantine=("clean", "openaq_location_names_quarantine"),
    flag=flag_names,
    keep=keep_names,
    reject=reject_names,
    partition_column="snapshot_on",
    clean_key=("location_id",),
    quarantine_key=("payload",),
)

clean_openaq_location_names = clean_asset(
    NAMES, "clean_openaq_location_names", "openaq", ("Location names per snapshot day.", "Locations without a name.")
)
'''

MODEL_SQL = """
select
    cast(location_id as bigint) as location_id,
    cast(location_name as varchar) as location_name,
    cast(snapshot_on as date) as snapshot_on
from {{ source('clean', 'openaq_location_names') }}
"""

MODEL_YML = """
version: 2

sources:
  - name: clean
    schema: clean
    tables:
      - name: openaq_location_names

models:
  - name: stg_openaq__location_names
    description: Location names per snapshot day.
    columns:
      - name: location_id
        data_tests: [not_null]
      - name: location_name
        data_tests: [not_null]
"""

NEW_FILES = {
    "spark/transforms/location_names.py": TRANSFORM,
    "assets/openaq_location_names.py": ASSET_MODULE,
    "dbt/models/staging/stg_openaq__location_names.sql": MODEL_SQL,
    "dbt/models/staging/stg_openaq__location_names.yml": MODEL_YML,
}

LINEAGE = """
import json
import dagster as dg
from orchestration.definitions import defs
from orchestration.jobs import daily_job
graph = defs.resolve_asset_graph()
clean, stg = dg.AssetKey(["clean", "openaq_location_names"]), dg.AssetKey(["staging", "stg_openaq__location_names"])
job_keys = daily_job.selection.resolve(graph)
print(json.dumps({
    "clean_parents": [k.to_user_string() for k in graph.get(clean).parent_keys],
    "stg_parents": [k.to_user_string() for k in graph.get(stg).parent_keys],
    "in_daily_job": clean in job_keys and stg in job_keys,
}))
"""


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project"), NEW_FILES)


@pytest.fixture(scope="module")
def materialized(project_copy: Path) -> Path:
    selection = ["raw/openaq_locations", "clean/openaq_location_names", "clean/openaq_location_names_quarantine"]
    return materialize(project_copy, [*selection, "staging/stg_openaq__location_names"], DAY)


def test_the_copy_differs_from_the_project_by_the_new_files_alone(project_copy: Path):
    added = {str(p.relative_to(project_copy)) for p in project_copy.rglob("*") if p.is_file()}
    assert added - set(tracked_files()) == set(NEW_FILES)


def test_the_new_table_is_in_the_one_lineage_graph_and_the_daily_job(materialized: Path):
    lineage = json.loads(run([str(BIN / "python"), "-c", LINEAGE], materialized).stdout.strip().splitlines()[-1])
    assert lineage == {
        "clean_parents": ["raw/openaq_locations"],
        "stg_parents": ["clean/openaq_location_names"],
        "in_daily_job": True,
    }


def test_the_new_table_lands_in_lake_and_warehouse_and_dbt_reads_it(materialized: Path):
    data = materialized / "data"
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as db:
        raw_named = db.execute(
            "select count(distinct location_id) from read_parquet(?)"
            " where nullif(trim(json_extract_string(payload, '$.name')), '') is not null",
            [str(data / "raw/openaq_locations" / f"day={DAY}" / "*.parquet")],
        ).fetchone()[0]
        clean = db.execute(
            "select count(*), count(distinct location_id), min(snapshot_on)::varchar, max(snapshot_on)::varchar"
            " from clean.openaq_location_names"
        ).fetchone()
        staged = db.execute("select count(*) from staging.stg_openaq__location_names").fetchone()[0]
        lake = db.execute(
            "select count(*) from read_parquet(?)",
            [str(data / "clean/openaq_location_names" / f"day={DAY}" / "*.parquet")],
        ).fetchone()[0]
    assert raw_named > 0
    assert clean == (raw_named, raw_named, DAY, DAY)
    assert staged == lake == raw_named
