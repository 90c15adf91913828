"""The code location: every asset, check, job, schedule, sensor and resource of the platform."""

import dagster as dg

from assets import (
    accounting,
    dbt_models,
    landing,
    openaq_catalogue,
    openaq_clean,
    producers,
    sinks,
    users_clean,
)
from assets.topics import OPENAQ_TOPIC, USERS_TOPIC
from orchestration.alerts import check_failure_alerts, run_failure_alerts
from orchestration.jobs import daily_job
from orchestration.profiles import deployment, resources_for
from orchestration.schedules import daily_schedule
from orchestration.sensors import kafka_offset_committer, topic_sensor

ASSET_MODULES = [openaq_catalogue, producers, landing, openaq_clean, users_clean, sinks, dbt_models]


def all_assets() -> list:
    """Every asset, with the Python asset checks (the dbt tests come with their assets)."""
    return [*dg.load_assets_from_modules(ASSET_MODULES), *accounting.checks]


def build_definitions(profile: str) -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets(),
        jobs=[daily_job],
        schedules=[daily_schedule],
        sensors=[
            topic_sensor(OPENAQ_TOPIC, landing.openaq_measurements_landing),
            topic_sensor(USERS_TOPIC, landing.randomuser_users_landing),
            kafka_offset_committer,
            run_failure_alerts,
            check_failure_alerts,
        ],
        resources=resources_for(profile),
        # `dagster asset materialize` and UI materializations use this too: one process, one
        # SparkSession for the whole selection.
        executor=dg.in_process_executor,
    )


defs = build_definitions(deployment())
