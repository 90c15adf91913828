"""dbt staging views and the star schema, one Dagster asset per model; dbt tests become
asset checks. dbt sources are named after the Spark assets' keys (`clean.<table>`), so the
lineage runs unbroken from the API pull to the marts.

Two definitions split the project by how a model is built, read from its dbt config, so a new
model lands in the right one without a change here:
- `daily_dbt_models`: incremental models (they replace the partition window) and views (a
  view costs nothing to recreate and keeps the day's chain clean -> staging -> fact daily).
- `dimension_dbt_models`: everything else, tables rebuilt whole and seeds: unpartitioned,
  so a day's run rebuilds each once instead of once per partition.
"""

from collections.abc import Mapping
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from assets.dbt_project import dbt_project, require_manifest
from assets.partitions import daily_partitions, single_run

DAILY_SELECT = "config.materialized:incremental config.materialized:view"
# Flows, in the order a model's tags and then its folders are matched against them.
FLOWS = ("openaq", "users", "ecommerce")
# Models of no single flow (the date spine every fact points at).
SHARED_GROUP = "shared"

MANIFEST = require_manifest()


def flow_group(props: Mapping[str, Any]) -> str:
    """The model's flow: a tag naming it (`tags: [users]`), else a folder on its path
    (`models/marts/ecommerce/...`), else `shared`. Never Dagster's `default` group."""
    tags = set(props.get("tags") or ())
    folders = set(PurePosixPath(props.get("original_file_path") or "").parts[:-1])
    for flow in FLOWS:
        if flow in tags:
            return flow
    for flow in FLOWS:
        if flow in folders:
            return flow
    return SHARED_GROUP


class FlowTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props.get("resource_type") == "source":
            return None  # sources are the Spark assets' keys: they keep their own groups
        return flow_group(dbt_resource_props)


def partition_window_env(window: dg.TimeWindow) -> dict[str, str]:
    """The partition window for the dbt macros; `max_date` is inclusive, the window's end is not.
    Passed in the environment, not as --vars (see dbt/macros/partition_window.sql)."""
    return {
        "DBT_PARTITION_MIN_DATE": window.start.date().isoformat(),
        "DBT_PARTITION_MAX_DATE": (window.end - timedelta(days=1)).date().isoformat(),
    }


# Buildable: a test runs when each of its parents is built in the invocation or is upstream of
# what is. A fact's relationships tests point at dimensions its SQL names as `depends_on`, so
# they run in the fact's build, against dimensions rebuilt earlier in the run (or before it).
# A sensor-run subset runs only the tests it can check; the rest wait for a run that can.
INDIRECT_SELECTION = ["--indirect-selection", "buildable"]


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    select=DAILY_SELECT,
    dagster_dbt_translator=FlowTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="warehouse",
)
def daily_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    window = partition_window_env(context.partition_time_window)
    yield from build(context, dbt, ["build", *INDIRECT_SELECTION], extra_env=window)


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    exclude=DAILY_SELECT,
    dagster_dbt_translator=FlowTranslator(),
    # No partitions: the policy only lets `dagster asset materialize --partition-range` take
    # the dimensions along (it wants every selected asset to be single-run).
    backfill_policy=single_run,
    pool="warehouse",
)
def dimension_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from build(context, dbt, ["build", *INDIRECT_SELECTION])


def build(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str], extra_env: dict[str, str] | None = None
):
    # Row counts: dagster-dbt queries each built relation after the build, so every model's
    # materialization carries `dagster/row_count` (DuckDB and PostgreSQL alike).
    invocation = dbt.cli(args, context=context, extra_env=extra_env)
    try:
        yield from invocation.stream().fetch_row_counts()
    finally:
        dbt.keep_parse_state(invocation)
        release_duckdb()


def release_duckdb() -> None:
    """Close the DuckDB file dbt-duckdb keeps open in this process after the row-count queries.

    They run through a dbt adapter inside this process, opened read-only, and neither dbt's
    `reset_adapters` nor dagster-dbt closes dbt-duckdb's process-wide environment: the next
    writer in this process (a range run, an in-process test) would be refused the file.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # a PostgreSQL-only install
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        env.close()
