"""Loss accounting and volume anomalies of the e-commerce files, per source and day.

Each term is counted from its own store, never derived from the others:

    records in the landing files  = raw rows of those file versions       (landing -> raw)
    raw rows of the latest versions = clean + quarantined + duplicates     (raw -> clean)

- landing records: the files now in the landing folder for the day, split again into records
  (assets/ecommerce/records.py) and counted; raw rows of those versions: Parquet footers of
  `<name>@<hash>.parquet` in the raw day (a missing version counts 0 and fails the check).
- raw rows of the latest versions: the raw day's rows of each file's newest version (older
  versions are superseded: shown, outside the identity).
- clean, quarantined: Parquet footers of the day in the clean zone's two tables.
- duplicates: counted by the clean step from the rows it read (its materialization).
"""

import hashlib
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.core.lake_days import parquet_rows
from assets.ecommerce.files import raw_file_name
from assets.ecommerce.records import split_file
from assets.ecommerce.sources import ALL_SOURCES, LandingFolder, Source
from assets.partitions import daily_partitions, partition_days
from assets.ports import Lake

TRAILING_DAYS = 7
# Fewer days with data than this say nothing about a normal range: the check passes, saying so.
MIN_HISTORY_DAYS = 3


def latest_version_rows(lake: Lake, source: Source, day: date) -> tuple[int, int]:
    """(rows of each file's latest version, rows of superseded versions) of the raw day."""
    raw = lake.read_days("raw", source.raw_table, [day])
    if not raw.files(day):
        return 0, 0
    table = raw.read(day, ["source_file", "file_sha256", "received_at"])
    versions = table.group_by(["source_file", "file_sha256", "received_at"]).aggregate([([], "count_all")])
    latest: dict[str, tuple] = {}
    for row in versions.to_pylist():
        candidate = (row["received_at"], row["file_sha256"], row["count_all"])
        latest[row["source_file"]] = max(latest.get(row["source_file"], candidate), candidate)
    current = sum(rows for _, _, rows in latest.values())
    return current, int(pc.sum(versions.column("count_all")).as_py() or 0) - current


def landing_terms(landing: LandingFolder, lake: Lake, source: Source, day: date) -> dict:
    records = raw_rows = missing = 0
    stored = {Path(f).name: f for f in lake.read_days("raw", source.raw_table, [day]).files(day)}
    for landed in landing.files(source.name, day):
        data = landed.path.read_bytes()
        records += len(split_file(landed.file_format, data)[1])
        version = stored.get(f"{raw_file_name(landed, hashlib.sha256(data).hexdigest())}.parquet")
        if version:
            raw_rows += pq.ParquetFile(version).metadata.num_rows
        else:
            missing += 1
    return {"landing_records": records, "raw_rows_of_landing_files": raw_rows, "files_not_in_raw": missing}


def counted_duplicates(instance: dg.DagsterInstance, source: Source, day: str) -> int | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=source.clean_key, asset_partitions=[day]), limit=1
    ).records
    if not records:
        return None
    per_day = records[0].asset_materialization.metadata.get("per_day")
    return ((per_day.value if per_day is not None else {}).get(day) or {}).get("duplicates")


def day_accounts(landing: LandingFolder, lake: Lake, source: Source, day: date, duplicates: int | None) -> dict:
    terms = landing_terms(landing, lake, source, day)
    lines_in, superseded = latest_version_rows(lake, source, day)
    clean = parquet_rows(lake.partition_dir("clean", source.clean_table, day))
    quarantined = parquet_rows(lake.partition_dir("clean", source.quarantine_table, day))
    return {
        **terms,
        "lines_in": lines_in,
        "superseded_rows": superseded,
        "clean_rows": clean,
        "quarantined_rows": quarantined,
        "duplicates": duplicates,
        "missing_at_clean": None if duplicates is None else lines_in - clean - quarantined - duplicates,
        "balanced": duplicates is not None
        and terms["files_not_in_raw"] == 0
        and terms["landing_records"] == terms["raw_rows_of_landing_files"]
        and lines_in == clean + quarantined + duplicates,
    }


def outside_trailing_range(lines: int, history: list[int]) -> bool:
    """Whether a day's lines leave [min, max] of the previous days with data (once enough have)."""
    history = [n for n in history if n]
    return len(history) >= MIN_HISTORY_DAYS and not min(history) <= lines <= max(history)


def accounting_check(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=source.clean_key,
        name="lines_accounted_for",
        blocking=True,
        partitions_def=daily_partitions,
        description="Blocking: fails unless the landing files' records are all in the raw zone and the "
        "latest versions' lines in = clean + quarantined + duplicates, each counted from its own store.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        landing: dg.ResourceParam[LandingFolder],
        lake: dg.ResourceParam[Lake],
    ) -> dg.AssetCheckResult:
        per_day = {}
        for day in partition_days(context):
            duplicates = counted_duplicates(context.instance, source, day.isoformat())
            per_day[day.isoformat()] = day_accounts(landing, lake, source, day, duplicates)
        bad = sorted(day for day, accounts in per_day.items() if not accounts["balanced"])
        metadata: dict = {"per_day": per_day, "unbalanced_days": bad}
        if len(per_day) == 1:
            (accounts,) = per_day.values()
            metadata |= {k: v for k, v in accounts.items() if isinstance(v, int) and not isinstance(v, bool)}
        return dg.AssetCheckResult(passed=not bad, metadata=metadata)

    return _check


def volume_check(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=source.raw_key,
        name="volume_within_trailing_range",
        partitions_def=daily_partitions,
        description=f"Warns when a day's lines (latest file versions) leave the range of the {TRAILING_DAYS} "
        "previous days that have any (judged once at least 3 of them do).",
    )
    def _check(context: dg.AssetCheckExecutionContext, lake: dg.ResourceParam[Lake]) -> dg.AssetCheckResult:
        outside, per_day = [], {}
        for day in partition_days(context):
            lines = latest_version_rows(lake, source, day)[0]
            history = [
                latest_version_rows(lake, source, day - timedelta(days=n))[0] for n in range(1, TRAILING_DAYS + 1)
            ]
            per_day[day.isoformat()] = {"lines": lines, "previous_days": history}
            if outside_trailing_range(lines, history):
                outside.append(day.isoformat())
        return dg.AssetCheckResult(
            passed=not outside,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"per_day": per_day, "days_outside_range": outside},
        )

    return _check


checks = [check for source in ALL_SOURCES for check in (accounting_check(source), volume_check(source))]
