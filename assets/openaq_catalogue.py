"""The OpenAQ catalogue pull: the day's snapshot of locations with their sensors and
parameters, kept as received (one JSON document per location) in the raw zone.

The catalogue is small and read whole, so it goes straight to the lake; the measurements it
lists are pulled by `assets.producers` and travel through Kafka.
"""

import json
from datetime import UTC, date, datetime

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, OpenAQSource

RAW_LOCATIONS = pa.schema(
    [
        ("location_id", pa.int64()),
        ("payload", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)


def location_batch(locations: list[dict], fetched_at: datetime) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "location_id": [loc.get("id") for loc in locations],
            "payload": [json.dumps(loc, ensure_ascii=False) for loc in locations],
            "fetched_at": [fetched_at] * len(locations),
        },
        schema=RAW_LOCATIONS,
    )


@dg.asset(
    key=["raw", "openaq_locations"],
    group_name="openaq",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"api", "parquet"},
)
def raw_openaq_locations(
    context: dg.AssetExecutionContext, openaq: dg.ResourceParam[OpenAQSource], lake: dg.ResourceParam[Lake]
) -> dg.MaterializeResult:
    """Daily snapshot of the OpenAQ location catalogue (locations with their sensors and parameters), as received."""
    locations = openaq.fetch_locations()
    fetched_at = datetime.now(UTC)
    for day in partition_days(context):
        batch = location_batch(locations, fetched_at)
        lake.write_partition("raw", "openaq_locations", day, RAW_LOCATIONS, [batch])
    sensors = sum(len(loc.get("sensors") or []) for loc in locations)
    return dg.MaterializeResult(
        metadata={
            "source_mode": openaq.mode,
            "locations": len(locations),
            "sensors": sensors,
            "days": len(partition_days(context)),
        }
    )


def read_locations(lake: Lake, day: date) -> list[dict]:
    """The catalogue snapshot of `day`, as the API returned it."""
    table = pq.read_table(lake.partition_dir("raw", "openaq_locations", day))
    return [json.loads(p) for p in table.column("payload").to_pylist()]
