"""The OpenAQ pull: the location catalogue and the day's measurements, as received.

Raw rows keep each API object as its JSON text plus the ids the request carried
(measurement objects name neither their sensor nor their location). Malformed pages are kept
as rows too, with the reason, so the clean step quarantines them instead of losing them.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.partitions import daily_partitions, day_window, partition_days, single_run
from assets.ports import Lake, MeasurementPageLike, OpenAQSource

RAW_LOCATIONS = pa.schema(
    [
        ("location_id", pa.int64()),
        ("payload", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)
RAW_MEASUREMENTS = pa.schema(
    [
        ("location_id", pa.int64()),
        ("sensor_id", pa.int64()),
        ("page", pa.int32()),
        ("row_in_page", pa.int32()),
        ("payload", pa.string()),
        ("page_error", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)
BATCH_ROWS = 50_000


def location_batch(locations: list[dict], fetched_at: datetime) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "location_id": [loc.get("id") for loc in locations],
            "payload": [json.dumps(loc, ensure_ascii=False) for loc in locations],
            "fetched_at": [fetched_at] * len(locations),
        },
        schema=RAW_LOCATIONS,
    )


def measurement_batches(
    pages: Iterable[MeasurementPageLike], batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Pages -> raw record batches of about `batch_rows` rows, stamped when received."""
    columns: dict[str, list] = {name: [] for name in RAW_MEASUREMENTS.names}

    def add(page, row_in_page, payload, error, fetched_at):
        columns["location_id"].append(page.sensor.location_id)
        columns["sensor_id"].append(page.sensor.sensor_id)
        columns["page"].append(page.page)
        columns["row_in_page"].append(row_in_page)
        columns["payload"].append(payload)
        columns["page_error"].append(error)
        columns["fetched_at"].append(fetched_at)

    for page in pages:
        fetched_at = datetime.now(timezone.utc)
        if page.rejected_reason is not None:
            add(page, None, page.raw_body, page.rejected_reason, fetched_at)
        for i, result in enumerate(page.results):
            add(page, i, json.dumps(result, ensure_ascii=False), None, fetched_at)
        if len(columns["payload"]) >= batch_rows:
            yield pa.RecordBatch.from_pydict(columns, schema=RAW_MEASUREMENTS)
            columns = {name: [] for name in RAW_MEASUREMENTS.names}
    if columns["payload"]:
        yield pa.RecordBatch.from_pydict(columns, schema=RAW_MEASUREMENTS)


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
    fetched_at = datetime.now(timezone.utc)
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


@dg.asset(
    key=["raw", "openaq_measurements"],
    deps=[raw_openaq_locations],
    group_name="openaq",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"api", "parquet"},
)
def raw_openaq_measurements(
    context: dg.AssetExecutionContext, openaq: dg.ResourceParam[OpenAQSource], lake: dg.ResourceParam[Lake]
) -> dg.MaterializeResult:
    """Every OpenAQ v3 measurement of the day for the catalogue's sensors, as received, with the sensor and location ids of the request."""
    per_day: dict[str, dict] = {}
    for day in partition_days(context):
        locations = read_locations(lake, day)
        start, end = day_window(day)
        counter = _PageCounter(openaq.fetch_measurement_pages(locations, start, end))
        rows = lake.write_partition(
            "raw", "openaq_measurements", day, RAW_MEASUREMENTS, measurement_batches(counter)
        )
        per_day[day.isoformat()] = {"rows": rows, **counter.summary()}
        context.log.info(f"raw OpenAQ {day}: {per_day[day.isoformat()]}")
    totals = {k: sum(d[k] for d in per_day.values()) for k in ("rows", "pages", "rejected_pages")}
    return dg.MaterializeResult(
        metadata={"source_mode": openaq.mode, **totals, "per_day": per_day}
    )


def read_locations(lake: Lake, day) -> list[dict]:
    table = pq.read_table(lake.partition_dir("raw", "openaq_locations", day))
    return [json.loads(p) for p in table.column("payload").to_pylist()]


class _PageCounter:
    """Passes pages through while counting them, for the materialization's metadata."""

    def __init__(self, pages: Iterable[MeasurementPageLike]):
        self._pages = pages
        self.pages = 0
        self.rejected = 0

    def __iter__(self):
        for page in self._pages:
            self.pages += 1
            self.rejected += page.rejected_reason is not None
            yield page

    def summary(self) -> dict:
        return {"pages": self.pages, "rejected_pages": self.rejected}
