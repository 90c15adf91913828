"""The code location: every asset, check, job, schedule and resource of the platform."""

import dagster as dg

from assets import dbt_models, openaq_clean, openaq_raw
from orchestration.jobs import daily_air_quality_job
from orchestration.profiles import deployment, resources_for
from orchestration.schedules import daily_air_quality_schedule


def build_definitions(profile: str) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([openaq_raw, openaq_clean, dbt_models]),
        jobs=[daily_air_quality_job],
        schedules=[daily_air_quality_schedule],
        resources=resources_for(profile),
        # `dagster asset materialize` and UI materializations use this too: one process, one
        # SparkSession for the whole selection.
        executor=dg.in_process_executor,
    )


defs = build_definitions(deployment())
