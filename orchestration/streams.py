"""What the code location builds per stream (assets/streams.py): the topic sensor over its
landing, the commit step after everything the landing feeds, and the catalogue facts of its
assets (owner, column schemas, the clean table's freshness policy)."""

from datetime import timedelta

import dagster as dg

from assets import offsets
from assets.column_schema import column_schema
from assets.landing.decode import LANDED
from assets.stream_landings import landing_of
from assets.streams import STREAMS, Stream
from orchestration.sensors import topic_sensor


def committed_asset(stream: Stream, assets: list) -> dg.AssetsDefinition:
    """The run's last step for the stream: commit the landing group once every asset the landing
    feeds (the ends of its downstream graph) has succeeded in the run."""
    ends = dg.AssetSelection.assets(stream.raw_key).downstream().sinks().resolve(assets)
    return offsets.committed_asset(stream.topic, stream.table, stream.group, sorted(ends))


def freshness_policy(stream: Stream) -> dg.FreshnessPolicy:
    """Dagster's own freshness policy: evaluated by the daemon (`freshness: enabled` in the
    instance's dagster.yaml), shown on the asset and in its health in the UI."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=stream.fresh_by, lower_bound_delta=timedelta(hours=stream.fresh_within_hours)
    )


def committed_assets(assets: list) -> list[dg.AssetsDefinition]:
    return [committed_asset(stream, assets) for stream in STREAMS]


def topic_sensors() -> list[dg.SensorDefinition]:
    """One sensor per stream over its landing (loaded with the `assets` package)."""
    return [topic_sensor(stream.topic, landing_of(stream)) for stream in STREAMS]


def catalogue_facts(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec with its stream's owner, the column schema of its raw and clean tables, and the
    clean table's freshness policy."""
    for stream in STREAMS:
        if spec.key not in stream.keys():
            continue
        schema = {
            stream.raw_key: column_schema(LANDED),
            stream.clean_key: column_schema(stream.columns),
        }.get(spec.key)
        metadata = {"dagster/column_schema": schema} if schema else {}
        spec = spec.merge_attributes(owners=[stream.owner], metadata=metadata)
        if spec.key == stream.clean_key:
            spec = spec.replace_attributes(freshness_policy=freshness_policy(stream))
        return spec
    return spec


def with_catalogue_facts(assets: list) -> list:
    return [a.map_asset_specs(catalogue_facts) if isinstance(a, dg.AssetsDefinition) else a for a in assets]
