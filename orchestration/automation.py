"""What follows a landing: the clean step, the sinks and the dbt models of each day that
changed, once per burst of ranges, by declarative automation.

The topic sensors' runs land raw data only (cheap, one per offset range). Everything the
landing feeds carries `after_landing`: requested when a parent in its flow was updated since
the asset was last requested or built, and only once nothing upstream is still in flight.
Queued and running landing runs of the day count as in flight, so the day's burst of ranges
is cleaned, sunk and modelled once, after its last range. The automation sensor ticks every
COOLDOWN_SECONDS: ranges that arrive over a few ticks fold into one run too. The file sensor's
runs build their day themselves, less the campaign aggregate (it also needs the ad stream),
which follows them the same way.

Runs that build an asset together with its parents (the daily job, `make run`, backfills)
leave nothing to follow: Dagster does not count an update made by a run that also built the
asset's root, so they start no second run.

A day whose latest build of an asset failed (a sink's server gone mid-write, the warehouse
connection cut) is requested again on every tick until a build succeeds. Nothing else would
bring it: the offsets follow the raw zone, which holds the day, so the next success of any run
commits past it, and the day may never land again. The retry rebuilds the whole day from the
raw zone and every write is idempotent (a day replaced, documents upserted by key), so it
brings exactly what the failed build left out, once. Every failed attempt is posted by
`run_failure_alerts`.
"""

import dagster as dg

# The automation sensor's interval: ranges landed within one interval share one downstream run.
COOLDOWN_SECONDS = 120
AUTOMATION_SENSOR = "after_landing_automation"


def after_landing(flow: dg.AssetSelection, partitioned: bool) -> dg.AutomationCondition:
    """Build when a parent in `flow` (the landing and what it feeds) changed, or the latest
    build failed, and nothing upstream is in flight. Parents outside the flow (dimensions,
    seeds) neither trigger it (a rebuilt dimension would otherwise request every day of a
    fact) nor block it."""
    changed = dg.AutomationCondition.any_deps_updated().allow(flow).since_last_handled()
    condition = (
        (changed | dg.AutomationCondition.execution_failed())
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    )
    if partitioned:
        # An unpartitioned child depends on every day of its parent: one missing day of the
        # parent's history would block it for good, so only the days' own chain checks this.
        condition = condition & ~dg.AutomationCondition.any_deps_missing().allow(flow)
    return condition.with_label("after_landing")


def with_automation(assets: list, landings: list[dg.AssetsDefinition]) -> list:
    """`assets` with `after_landing` on everything downstream of each landing (the landings
    themselves are the topic sensors' to run)."""
    # Per asset spec: one definition (the dbt models) holds daily and unpartitioned assets.
    partitioned = {
        spec.key: spec.partitions_def is not None
        for asset in assets
        if isinstance(asset, dg.AssetsDefinition)
        for spec in asset.specs
    }
    # An asset fed by several landings (the campaign aggregate: the ad stream and the shop's
    # orders) follows any of them.
    flows: dict[dg.AssetKey, dg.AssetSelection] = {}
    for landing in landings:
        flow = dg.AssetSelection.assets(landing).downstream()
        for key in flow.resolve(assets) - set(landing.keys):
            flows[key] = flows[key] | flow if key in flows else flow
    conditions = {key: after_landing(flow, partitioned[key]) for key, flow in flows.items()}

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        condition = conditions.get(spec.key)
        return spec if condition is None else spec.replace_attributes(automation_condition=condition)

    return [asset.map_asset_specs(apply) if isinstance(asset, dg.AssetsDefinition) else asset for asset in assets]


automation_sensor = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR,
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=COOLDOWN_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Cleans, sinks and models the days the topic sensors' landing runs changed, "
    f"once per burst of ranges (every {COOLDOWN_SECONDS} s at most).",
)
