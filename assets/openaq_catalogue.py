"""The OpenAQ catalogue pull: the day's snapshot of locations with their sensors and
parameters, kept as received (one JSON document per location) in the raw zone.

The catalogue is small and read whole, so it goes straight to the lake; the measurements it
lists are pulled by `assets.producers` and travel through Kafka.
"""

import json
from datetime import UTC, date, datetime

import dagster as dg
import pyarrow as pa

from assets.core.lake_days import LakeDays
from assets.lake_io import LAKE_IO
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import OpenAQSource

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
    io_manager_key=LAKE_IO,
)
def raw_openaq_locations(
    context: dg.AssetExecutionContext, openaq: dg.ResourceParam[OpenAQSource]
) -> dg.Output[dict[date, pa.Table]]:
    """Daily snapshot of the OpenAQ location catalogue (locations with their sensors and parameters), as received."""
    locations = openaq.fetch_locations()
    fetched_at = datetime.now(UTC)
    days = partition_days(context)
    snapshot = pa.Table.from_batches([location_batch(locations, fetched_at)])
    sensors = sum(len(loc.get("sensors") or []) for loc in locations)
    return dg.Output(
        {day: snapshot for day in days},
        metadata={"source_mode": openaq.mode, "locations": len(locations), "sensors": sensors, "days": len(days)},
    )


def read_locations(catalogue: LakeDays, day: date) -> list[dict]:
    """The catalogue snapshot of `day`, as the API returned it."""
    return [json.loads(p) for p in catalogue.read(day, ["payload"]).column("payload").to_pylist()]
