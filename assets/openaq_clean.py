"""Spark-cleaned OpenAQ tables: each day replaced in the clean zone and the warehouse's
`clean` schema (where dbt reads them) by the lake IO manager, so re-running a partition
gives the same tables."""

from dataclasses import replace
from functools import partial

import dagster as dg

from assets.clean_zone import CleanStep, clean_asset, output_name, table_spec
from assets.core.lake_days import LakeDays
from assets.dbt_project import DBT_PROJECT_DIR
from assets.lake_io import lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Spark
from spark.transforms.catalogue import clean_locations, clean_sensors, parse_locations
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

MEASUREMENTS = CleanStep(
    raw=("raw", "openaq_measurements"),
    clean=("clean", "openaq_measurements"),
    quarantine=("clean", "openaq_measurements_quarantine"),
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
        "clean_openaq_measurements",
        "openaq",
        (
            "Validated OpenAQ measurements: typed, UTC, one row per sensor x period end, units as given.",
            "Landed measurement messages that failed validation, as received, with the reason.",
        ),
        extra_deps=[plausibility_rules.key.path],
        prepare=with_rules,
    )


clean_openaq_measurements = measurements_asset()

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
    session = spark.get_session()
    locations, sensors, cached = {}, {}, []
    rejected_documents = 0
    try:
        for day in partition_days(context):
            parsed = parse_locations(session.read.parquet(catalogue.path(day))).persist()
            cached.append(parsed)
            rejected = parsed.where("reason is not null")
            for row in rejected.select("location_id", "reason").collect():
                context.log.warning(f"location document rejected on {day}: {row.asDict()}")
            rejected_documents += rejected.count()
            locations[day], sensors[day] = clean_locations(parsed, day), clean_sensors(parsed, day)
        counts = {
            "locations": sum(frame.count() for frame in locations.values()),
            "sensors": sum(frame.count() for frame in sensors.values()),
            "rejected_documents": rejected_documents,
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
        for frame in cached:
            frame.unpersist()
