"""The code location: every asset, check, job, schedule, sensor and resource of the platform."""

import dagster as dg

import assets as assets_package
from assets import accounting, serving_accounting, stream_landings
from assets.ecommerce import accounting as ecommerce_accounting
from assets.ecommerce import files as ecommerce_files
from assets.lake_warehouse import agreement_checks
from orchestration.alerts import check_failure_alerts, run_failure_alerts
from orchestration.automation import automation_sensor, with_automation
from orchestration.committer import kafka_offset_committer
from orchestration.dead_runs import dead_runs_sensor
from orchestration.file_sensor import landing_folder_sensor
from orchestration.held_back import held_back_checks
from orchestration.held_messages import held_message_checks
from orchestration.jobs import daily_job
from orchestration.profiles import deployment, resources_for
from orchestration.schedules import daily_schedule
from orchestration.streams import committed_assets, topic_sensors, with_catalogue_facts


def all_assets() -> list:
    """Every asset, with the Python asset checks (the dbt tests come with their assets); what
    the landings feed follows them by declarative automation (orchestration/automation.py).

    Every module of the `assets` package is searched, so a new asset module needs no
    registration here: adding a clean table is one asset module and one dbt model, and adding a
    stream a descriptor (assets/streams.py) beside them."""
    assets = with_catalogue_facts(dg.load_assets_from_package_module(assets_package))
    # The file sensor's runs, too: what they leave out follows.
    landings = [*stream_landings.landings, *ecommerce_files.raw_assets]
    checks = [
        *accounting.checks,
        *serving_accounting.checks,
        *ecommerce_accounting.checks,
        *agreement_checks(assets),
    ]
    return [*with_automation(assets, landings), *with_catalogue_facts(committed_assets(assets)), *checks]


def build_definitions(profile: str) -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets(),
        asset_checks=[*held_back_checks, *held_message_checks],
        jobs=[daily_job],
        schedules=[daily_schedule],
        sensors=[
            *topic_sensors(),
            kafka_offset_committer,
            automation_sensor,
            landing_folder_sensor(),
            run_failure_alerts,
            check_failure_alerts,
            # Local only: it judges runs by process ids of this machine (orchestration/dead_runs.py).
            *([dead_runs_sensor] if profile == "local" else []),
        ],
        resources=resources_for(profile),
        # `dagster asset materialize` and UI materializations use this too: one process, one
        # SparkSession for the whole selection.
        executor=dg.in_process_executor,
    )


defs = build_definitions(deployment())
