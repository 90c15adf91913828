"""One-time migration: raw days written before the offset-block layout, folded into blocks.

Landing used to fold a day's files of the earlier layout (named by range, `part-0`) on every
landing, deleting files inside the live version. It now refuses such a day with this command's
name, and this command does the fold once, per day, as every other write: into a new version of
the day that is swapped in whole (LakeResource.staged_partition), so a reader or a kill at any
point finds the old day or the folded one. Run it with no run in flight:

    DATA_DIR=... .venv/bin/python -m orchestration.migrate_raw_layout

It prints what it folded and is a no-op on a lake that has nothing left to fold.
"""

import os
from datetime import date
from pathlib import Path

from assets.core.lake_days import parquet_files
from assets.landing.decode import LANDED, REJECTED
from assets.landing.legacy import folded_blocks, legacy_files
from orchestration.profiles import data_dir
from orchestration.resources.lake import LakeResource, write_parquet


def fold_day(lake: LakeResource, table: str, day: date) -> int:
    """Folds one raw day into blocks in a new version of the day; returns the earlier layout's
    files folded (0 when there were none: nothing is written)."""
    old = legacy_files(lake, table, day)
    if not old:
        return 0
    schema = REJECTED if table.endswith("_rejected") else LANDED
    files = [Path(f) for f in parquet_files(lake.partition_dir("raw", table, day))]
    blocks = folded_blocks([f for f in files if not f.name.endswith("-empty.parquet")], schema)
    with lake.staged_partition("raw", table, day) as staging:
        for name, rows in blocks.items():
            write_parquet(staging / f"{name}.parquet", schema, rows.to_batches())
        for empty in (f for f in files if f.name.endswith("-empty.parquet") and not blocks):
            write_parquet(staging / empty.name, schema, [])
    return len(old)


def migrate(lake: LakeResource) -> dict[str, int]:
    """Every raw day of the lake: `table/day` -> files folded, for the days that had any."""
    folded = {}
    raw = Path(lake.root) / "raw"
    for table_dir in sorted(p for p in raw.iterdir() if p.is_dir()) if raw.is_dir() else ():
        for day_dir in sorted(table_dir.glob("day=*")):
            day = date.fromisoformat(day_dir.name.removeprefix("day="))
            if count := fold_day(lake, table_dir.name, day):
                folded[f"{table_dir.name}/{day}"] = count
    return folded


def main() -> int:
    lake = LakeResource(root=str(data_dir()))
    folded = migrate(lake)
    for where, count in folded.items():
        print(f"raw/{where}: {count} file(s) of the earlier layout folded into offset blocks")
    print(f"{len(folded)} day(s) migrated under {lake.root}" if folded else f"nothing to migrate under {lake.root}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_DEPLOYMENT", "local")
    raise SystemExit(main())
