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
        "--vars", json.dumps(dbt_vars(context.partition_time_window)),
        "--indirect-selection", "cautious",
    ]
    yield from dbt.cli(args, context=context).stream()
