"""The landing folder's files, and the raw zone that keeps every version of each one.

`landing/ecommerce_files` is the folder itself (in sample mode it writes the day's sample
exports first; in live mode it writes nothing: the files come from the shop's exports). `raw/ecommerce_<source>` stores each file version present for the day as
`raw/ecommerce_<source>/day=D/<name>@<sha256 prefix>.parquet`: one row per record, with the
file's path, full hash, size, the time it was first received and the run that received it.
A version already in the raw zone is not read again, so a file is ingested once however many
runs (sensor, CLI, schedule) see it; a corrected file under the same name is a new version.
"""

import hashlib
from datetime import UTC, date, datetime

import dagster as dg

from assets.column_schema import column_schema
from assets.ecommerce.records import RAW_SCHEMA, raw_batch, split_file
from assets.ecommerce.sources import ALL_SOURCES, GROUP, LANDING_FILES, OWNER, LandedFileLike, LandingFolder, Source
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake

SHA_PREFIX = 16  # hex digits of the hash in a raw file's name; the full hash is a column
EMPTY_FILE = "empty"  # a day without files still reads as an (empty) table


def raw_file_name(landed: LandedFileLike, sha256: str) -> str:
    return f"{landed.path.name}@{sha256[:SHA_PREFIX]}"


@dg.asset(
    key=LANDING_FILES,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name=GROUP,
    owners=[OWNER],
    kinds={"python", "file"},
    description="Export files dropped in the landing folder, one folder per source and day (sample exports "
    "are written here in sample mode). The platform never moves or deletes them.",
)
def ecommerce_files(context: dg.AssetExecutionContext, landing: dg.ResourceParam[LandingFolder]):
    files: dict[str, int] = dict.fromkeys((s.name for s in ALL_SOURCES), 0)
    if landing.mode == "sample":
        context.log.warning("landing folder in SAMPLE mode: the day's sample exports are written first")
    else:
        context.log.info(f"landing folder in {landing.mode.upper()} mode: no sample written, only the shop's exports")
    for day in partition_days(context):
        if landing.mode == "sample":
            landing.write_samples(day)
        for source in ALL_SOURCES:
            files[source.name] += len(landing.files(source.name, day))
    return dg.MaterializeResult(
        metadata={"mode": landing.mode, "files": files, "dagster/row_count": sum(files.values())}
    )


def ingest_file(lake: Lake, table: str, day: date, landed: LandedFileLike, run_id: str) -> tuple[int, bool]:
    """(records, whether the version was new): each version lands once."""
    data = landed.path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    name = raw_file_name(landed, sha256)
    if (lake.partition_dir("raw", table, day) / f"{name}.parquet").exists():
        return 0, False
    header, records = split_file(landed.file_format, data)
    meta = {
        "source_file": landed.relative_path,
        "file_sha256": sha256,
        "file_bytes": len(data),
        "received_at": datetime.now(UTC),
        "ingest_run_id": run_id,
    }
    return lake.write_file("raw", table, day, name, RAW_SCHEMA, [raw_batch(records, header, meta)]), True


def raw_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=source.raw_key,
        deps=[LANDING_FILES],
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        group_name=GROUP,
        owners=[OWNER],
        kinds={"python", "parquet"},
        metadata={"dagster/column_schema": column_schema(RAW_SCHEMA)},
        description=f"Every version of the day's {source.name} files as received: one row per record, with "
        "the file's path, SHA-256, size and first receipt.",
    )
    def _raw(context: dg.AssetExecutionContext, landing: dg.ResourceParam[LandingFolder], lake: dg.ResourceParam[Lake]):
        new_versions = known_versions = records = rows = 0
        for day in partition_days(context):
            for landed in landing.files(source.name, day):
                count, new = ingest_file(lake, source.raw_table, day, landed, context.run.run_id)
                new_versions, known_versions, records = new_versions + new, known_versions + (not new), records + count
                if new:
                    context.log.info(f"ingested {landed.relative_path}: {count} records")
            raw = lake.read_days("raw", source.raw_table, [day])
            if not raw.files(day):
                lake.write_file("raw", source.raw_table, day, EMPTY_FILE, RAW_SCHEMA, [])
            rows += raw.rows(day)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "new_file_versions": new_versions,
                "known_file_versions": known_versions,
                "records_ingested": records,
            }
        )

    return _raw


raw_assets = [raw_asset(source) for source in ALL_SOURCES]
