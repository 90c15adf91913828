"""dbt staging views and the star schema, one Dagster asset per model; dbt tests become
asset checks. dbt sources are named after the Spark assets' keys (`clean.<table>`), so the
lineage runs unbroken from the API pull to the marts.

One definition, one op (`dbt_models`), its assets partitioned by how each model is built, read
from its dbt config, so a new model is partitioned right without a change here:
- daily: incremental models (they replace the partition window) and views (a view costs
  nothing to recreate and keeps the day's chain clean -> staging -> fact daily);
- unpartitioned: everything else, tables rebuilt whole and seeds, so a run of many days
  rebuilds each once instead of once per partition.
"""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.dbt_manifest import validate_manifest

from assets.dbt_project import dbt_project, require_manifest
from assets.ecommerce.clean import STATUS_SEEDS, order_status_words
from assets.ecommerce.sources import GROUP as ECOMMERCE_GROUP
from assets.openaq_clean import RULE_SEEDS, plausibility_rules
from assets.partitions import daily_partitions, single_run
from assets.streams import STREAMS

# Models that replace the partition window (incremental) or cost nothing to recreate (views).
DAILY_MATERIALIZATIONS = ("incremental", "view")
# Flows, in the order a model's tags and then its folders are matched against them: each
# stream's group (its models are tagged with it), then the e-commerce file sources'.
FLOWS = tuple(dict.fromkeys([*(s.group for s in STREAMS), ECOMMERCE_GROUP]))
# Models of no single flow (the date spine every fact points at).
SHARED_GROUP = "shared"

MANIFEST = require_manifest()
# What dbt/macros/log_row_count.sql logs before a built table's row count.
ROW_COUNT_LOG = "airstream_row_count "


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

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "seed" and props["name"] in RULE_SEEDS:
            return spec.merge_attributes(deps=[plausibility_rules.key])
        if props["resource_type"] == "seed" and props["name"] in STATUS_SEEDS:
            return spec.merge_attributes(deps=[order_status_words.key])
        return spec


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
# Unit tests prove a model's SQL on fixed inputs, so a day's data cannot change their verdict:
# as dbt advises, they run in development and CI (tests/dbt/unit_tests.py, on every engine,
# against parents a whole-graph run built), not in each day's build (24 of them, about 2.4 s of
# a sample day's 13 s of dbt).
WITHOUT_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]


def _rebuilt_whole(props: Mapping[str, Any]) -> bool:
    return props["resource_type"] == "seed" or props["config"].get("materialized") not in DAILY_MATERIALIZATIONS


def _has_window(context: dg.AssetExecutionContext) -> bool:
    return context.has_partition_key or context.has_partition_key_range


def _one_definition() -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=MANIFEST,
        project=dbt_project,
        dagster_dbt_translator=FlowTranslator(),
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        pool="warehouse",
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        # A run of unpartitioned models only (a dimension after a landing) has no window: no
        # daily model is selected then.
        window = partition_window_env(context.partition_time_window) if _has_window(context) else None
        yield from build(context, dbt, ["build", *INDIRECT_SELECTION, *WITHOUT_UNIT_TESTS], extra_env=window)

    translator = FlowTranslator()
    rebuilt_whole = {
        translator.get_asset_key(props)
        for props in validate_manifest(MANIFEST)["nodes"].values()  # dagster-dbt's cached parse
        if props["resource_type"] in ("model", "seed") and _rebuilt_whole(props)
    }
    return dbt_models.map_asset_specs(
        lambda spec: spec.replace_attributes(partitions_def=None) if spec.key in rebuilt_whole else spec
    )


# One op, so the models a run selects are one `dbt build` (one dbt start, one parse-state load)
# whatever else the run holds. The tables rebuilt whole and the seeds are unpartitioned (per
# asset spec): a run of many days rebuilds each once, and a rebuilt dimension requests no day of
# a fact.
dbt_models = _one_definition()


def build(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str], extra_env: dict[str, str] | None = None
):
    invocation = dbt.cli(args, context=context, extra_env=extra_env)
    try:
        yield from with_row_counts(invocation)
    finally:
        dbt.keep_parse_state(invocation)
        dbt.prune_invocation_dirs(invocation)


def with_row_counts(invocation) -> Iterator:
    """The invocation's Dagster events as dbt emits them, each table's materialization carrying
    `dagster/row_count`: counted by dbt itself right after the build (the `log_row_count`
    post-hook logs it). dagster-dbt's own `fetch_row_counts` must wait for dbt to exit on
    DuckDB, holding back every event (a run's checks, its progress in the UI) until then."""
    counted: dict[str, int] = {}
    for message in invocation.stream_raw_events():
        info, node = message.raw_event["info"], message.raw_event["data"].get("node_info") or {}
        if info["name"] == "JinjaLogInfo" and info["msg"].startswith(ROW_COUNT_LOG) and node.get("unique_id"):
            counted[node["unique_id"]] = int(info["msg"].removeprefix(ROW_COUNT_LOG))
            continue
        rows = counted.get(node.get("unique_id"))
        for event in message.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=invocation.context,
            target_path=invocation.target_path,
            project=invocation.project,
        ):
            if rows is not None and isinstance(event, dg.Output | dg.AssetMaterialization):
                event = event.with_metadata({**event.metadata, "dagster/row_count": rows})
            yield event
