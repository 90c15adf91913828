"""Spark-cleaned OpenAQ tables: each day replaced in the clean zone and the warehouse's
`clean` schema (where dbt reads them) by the lake IO manager, so re-running a partition
gives the same tables."""

from dataclasses import replace
from functools import partial

import dagster as dg
from pyspark.sql import functions as F

from assets.clean_zone import CleanStep, clean_asset, output_name, read_range, table_spec
from assets.core.lake_days import LakeDays
from assets.dbt_project import DBT_PROJECT_DIR
from assets.lake_io import lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Spark
from assets.streams import OPENAQ
from spark.transforms.catalogue import clean_locations, clean_sensors, parse_locations
from spark.transforms.days import DAY
from spark.transforms.measurements import (
    CLEAN_KEY,
    QUARANTINE_KEY,
    clean_measurements,
    flag_measurements,
    quarantined_measurements,
)
from spark.transforms.plausibility import read_plausibility

# The plausibility rules are dbt seeds: the warehouse tests the marts against the same files.
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
RULE_SEEDS = ("measurement_bounds", "measurement_sentinels")
# The rules' files, upstream of both their readers: this step reads the files (not the seed
# tables), and dbt loads them as seeds. A change of the rules re-cleans the measurements, and
# no dbt model sits upstream of the Spark step, so a run's dbt models stay one dbt invocation.
plausibility_rules = dg.AssetSpec(
    ["reference", "plausibility_rules"],
    description=f"The plausibility rules' CSV files (dbt/seeds: {', '.join(RULE_SEEDS)}): bounds per "
    "parameter and units, and the providers' sentinel values.",
    group_name="openaq",
    kinds={"csv"},
)
plausibility_rules_files = dg.AssetsDefinition(specs=[plausibility_rules])  # external: not built here

MEASUREMENTS = CleanStep.of(
    OPENAQ,
    flag=flag_measurements,  # bound to the rules per run (with_rules)
    keep=clean_measurements,
    reject=quarantined_measurements,
    partition_column="measured_on",
    clean_key=CLEAN_KEY,
    quarantine_key=QUARANTINE_KEY,
)


def with_rules(session, step: CleanStep) -> CleanStep:
    return replace(step, flag=partial(flag_measurements, rules=read_plausibility(session, SEEDS_DIR)))


def measurements_asset(step: CleanStep = MEASUREMENTS) -> dg.AssetsDefinition:
    """The measurements' clean multi-asset (a test builds one from a changed step)."""
    return clean_asset(
        step,
        OPENAQ.clean_step_name,
        OPENAQ.group,
        (
            "Validated OpenAQ measurements: typed, UTC, one row per sensor x period end, units as given.",
            "Landed measurement messages that failed validation, as received, with the reason.",
        ),
        extra_deps=[plausibility_rules.key.path],
        prepare=with_rules,
    )


measurements_clean = measurements_asset()

RAW_LOCATIONS = ["raw", "openaq_locations"]
CLEAN_LOCATIONS = ["clean", "openaq_locations"]
CLEAN_SENSORS = ["clean", "openaq_sensors"]


@dg.multi_asset(
    specs=[
        table_spec(CLEAN_LOCATIONS, [RAW_LOCATIONS], "Daily snapshot of OpenAQ locations.", "openaq", "snapshot_on"),
        table_spec(
            CLEAN_SENSORS,
            [RAW_LOCATIONS],
            "Daily snapshot of OpenAQ sensors with their location and parameter (id, name, units).",
            "openaq",
            "snapshot_on",
        ),
    ],
    ins={"catalogue": lake_input(RAW_LOCATIONS)},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="spark",
)
def clean_openaq_catalogue(context: dg.AssetExecutionContext, spark: dg.ResourceParam[Spark], catalogue: LakeDays):
    # The run's snapshot days parsed at once (assets/clean_zone.py `read_range`): one query of
    # the rejected documents, a count and one write per table, whatever the number of days.
    session = spark.get_session()
    parsed = parse_locations(read_range(session, catalogue, partition_days(context))).persist()
    try:
        locations, sensors = clean_locations(parsed, F.col(DAY)), clean_sensors(parsed, F.col(DAY))
        rejected = parsed.where("reason is not null").select(DAY, "location_id", "reason").collect()
        for row in rejected:
            document = {"location_id": row.location_id, "reason": row.reason}
            context.log.warning(f"location document rejected on {row[DAY]}: {document}")
        counts = {
            "locations": locations.count(),
            "sensors": sensors.count(),
            "rejected_documents": len(rejected),
        }
        yield dg.Output(
            locations,
            output_name=output_name(CLEAN_LOCATIONS),
            metadata={"dagster/row_count": counts["locations"], **counts},
        )
        yield dg.Output(
            sensors, output_name=output_name(CLEAN_SENSORS), metadata={"dagster/row_count": counts["sensors"]}
        )
    finally:
        parsed.unpersist()
