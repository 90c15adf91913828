"""dbt staging views and the star schema, one Dagster asset per model; dbt tests become
asset checks. dbt sources are named after the Spark assets' keys (`clean.<table>`), so the
lineage runs unbroken from the API pull to the marts."""

import json
from datetime import timedelta

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from assets.dbt_project import dbt_project
from assets.partitions import daily_partitions, single_run


def dbt_vars(window: dg.TimeWindow) -> dict[str, str]:
    """The partition window as dbt vars; `max_date` is inclusive, the window's end is not."""
    return {
        "min_date": window.start.date().isoformat(),
        "max_date": (window.end - timedelta(days=1)).date().isoformat(),
    }


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def air_quality_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    # Sensor runs build a subset (one flow's models). Cautious selection runs only the tests
    # whose parents are all in the run: a relationship test towards a model of the other flow,
    # or one this run does not build, waits for the run that builds both ends.
    args = [
        "build",
        "--vars",
        json.dumps(dbt_vars(context.partition_time_window)),
        "--indirect-selection",
        "cautious",
    ]
    # Row counts: dagster-dbt queries each built relation after the build, so every model's
    # materialization carries `dagster/row_count` (DuckDB and PostgreSQL alike).
    try:
        yield from dbt.cli(args, context=context).stream().fetch_row_counts()
    finally:
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
