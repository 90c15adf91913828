"""Whether the warehouse's copy of a lake table is the lake's current day, day by day.

The warehouse stamps each day it loads with the lake version it loaded, in the load's own
transaction (orchestration/resources/warehouse.py); the lake swaps that version in afterwards.
A writer killed between the two leaves a stamp the lake never got: the day disagrees. The lake
IO manager reloads such days from the lake after every write of the table; this check names
them meanwhile. Days loaded before the stamps existed carry none and are not compared.
"""

from collections.abc import Sequence

import dagster as dg

from assets.ports import Lake, Warehouse


def disagreeing_days(lake: Lake, warehouse: Warehouse, zone: str, table: str) -> dict[str, dict]:
    """Every stamped day whose warehouse version is not the lake's current one (None: no day)."""
    stamps = warehouse.lake_versions(zone, table)
    found = {day: (version, lake.current_version(zone, table, day)) for day, version in sorted(stamps.items())}
    return {day.isoformat(): {"warehouse": w, "lake": v} for day, (w, v) in found.items() if w != v}


def agreement_check(key: Sequence[str]) -> dg.AssetChecksDefinition:
    zone, table = key

    @dg.asset_check(
        asset=dg.AssetKey(list(key)),
        name="warehouse_matches_lake",
        description="Fails naming every day whose warehouse copy was loaded from another lake version "
        "than the one the lake holds (a write killed between the warehouse commit and the lake swap); "
        "the next write of the table reloads those days from the lake.",
    )
    def _agree(lake: dg.ResourceParam[Lake], warehouse: dg.ResourceParam[Warehouse]) -> dg.AssetCheckResult:
        days = disagreeing_days(lake, warehouse, zone, table)
        description = f"the warehouse differs from the lake on {', '.join(days)}" if days else "every day agrees"
        return dg.AssetCheckResult(
            passed=not days, metadata={"disagreeing_days": sorted(days), "versions": days}, description=description
        )

    return _agree


def agreement_checks(assets: Sequence) -> list[dg.AssetChecksDefinition]:
    """One check per table the lake IO manager copies into the warehouse (a `partition_column`)."""
    return [
        agreement_check(spec.key.path)
        for asset in assets
        if isinstance(asset, dg.AssetsDefinition)
        for spec in asset.specs
        if "partition_column" in (spec.metadata or {})
    ]
