"""`catalog.ingested_files`: one row per file version the raw zone holds, with its counts.

Rebuilt per landing day from the stores themselves: the raw zone gives each version's path,
hash, size, first receipt, receiving run and records; the clean zone's two tables give the
rows of each version that are clean or quarantined (0 for a superseded version). The day is
replaced in the lake and the warehouse, so the table holds one row per (source, path,
sha256) however often a day is re-run.
"""

from datetime import date

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.column_schema import column_schema
from assets.ecommerce.sources import ALL_SOURCES, GROUP, OWNER, Source
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Warehouse

CATALOG = dg.AssetKey(["catalog", "ingested_files"])
VERSION = ["source_file", "file_sha256"]
SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("file_sha256", pa.string()),
        ("file_bytes", pa.int64()),
        ("first_seen_at", pa.timestamp("us", tz="UTC")),
        ("ingest_run_id", pa.string()),
        ("rows_in", pa.int64()),
        ("rows_clean", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("is_current", pa.bool_()),
        ("landed_on", pa.date32()),
    ]
)


def _table(lake: Lake, zone: str, table: str, day: date, columns: list[str]) -> pa.Table | None:
    stored = lake.read_days(zone, table, [day])
    return stored.read(day, columns) if stored.files(day) else None


def _rows_per_version(table: pa.Table | None) -> dict[tuple, int]:
    if table is None or table.num_rows == 0:
        return {}
    counted = table.group_by(VERSION).aggregate([([], "count_all")]).to_pylist()
    return {(r["source_file"], r["file_sha256"]): r["count_all"] for r in counted}


def file_versions(lake: Lake, source: Source, day: date) -> list[dict]:
    raw = _table(lake, "raw", source.raw_table, day, [*VERSION, "file_bytes", "received_at", "ingest_run_id"])
    if raw is None or raw.num_rows == 0:
        return []
    versions = raw.group_by([*VERSION, "file_bytes", "received_at", "ingest_run_id"]).aggregate([([], "count_all")])
    clean = _rows_per_version(_table(lake, "clean", source.clean_table, day, VERSION))
    quarantined = _rows_per_version(_table(lake, "clean", source.quarantine_table, day, VERSION))
    rows = sorted(versions.to_pylist(), key=lambda r: (r["source_file"], r["received_at"], r["file_sha256"]))
    latest = {r["source_file"]: r["file_sha256"] for r in rows}  # sorted by receipt: the last wins
    return [
        {
            "source": source.name,
            "source_file": r["source_file"],
            "file_sha256": r["file_sha256"],
            "file_bytes": r["file_bytes"],
            "first_seen_at": r["received_at"],
            "ingest_run_id": r["ingest_run_id"],
            "rows_in": r["count_all"],
            "rows_clean": clean.get((r["source_file"], r["file_sha256"]), 0),
            "rows_quarantined": quarantined.get((r["source_file"], r["file_sha256"]), 0),
            "is_current": latest[r["source_file"]] == r["file_sha256"],
            "landed_on": day,
        }
        for r in rows
    ]


@dg.asset(
    key=CATALOG,
    deps=[s.clean_key for s in ALL_SOURCES],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name=GROUP,
    owners=[OWNER],
    kinds={"python", "parquet"},
    metadata={"dagster/column_schema": column_schema(SCHEMA)},
    description="Every file version ingested from the landing folder: source, path, SHA-256, bytes, rows in, "
    "clean and quarantined, first seen, the receiving run. One row per (source, path, sha256).",
)
def ingested_files(
    context: dg.AssetExecutionContext, lake: dg.ResourceParam[Lake], warehouse: dg.ResourceParam[Warehouse]
) -> dg.MaterializeResult:
    total = 0
    for day in partition_days(context):
        rows = [row for source in ALL_SOURCES for row in file_versions(lake, source, day)]
        with lake.staged_partition("catalog", "ingested_files", day) as staged:
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), staged / "part-0.parquet")
            total += warehouse.replace_partition("catalog", "ingested_files", "landed_on", day, staged, staged.name)
    # The API serves this table (/v1/catalog/files): its reader role may read it, and only it.
    warehouse.grant_read("catalog", "ingested_files")
    return dg.MaterializeResult(metadata={"dagster/row_count": total})
