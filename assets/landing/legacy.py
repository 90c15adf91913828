"""Raw days of the layout before offset blocks (files named by range, `part-0`): landing refuses
them, and the one-time migration (orchestration/migrate_raw_layout.py) folds them into blocks."""

import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.core.lake_days import parquet_files
from assets.landing.ranges import BLOCK, block_name
from assets.ports import Lake

# Files of the current layout; anything else in a raw day is of the layout before it.
_CURRENT = re.compile(r".+-p\d+-b\d{7}\.parquet|.+-empty\.parquet")


class LegacyLayout(Exception):
    """A raw day still holds files of the layout before offset blocks."""


def legacy_files(lake: Lake, table: str, day: date) -> list[Path]:
    """The day's files of the earlier layout (names only: no file is read)."""
    return [
        Path(f) for f in parquet_files(lake.partition_dir("raw", table, day)) if not _CURRENT.fullmatch(Path(f).name)
    ]


def refuse_legacy(lake: Lake, table: str, day: date) -> None:
    """Landing merges into blocks only: a day of the earlier layout is migrated once, first."""
    if old := legacy_files(lake, table, day):
        raise LegacyLayout(
            f"raw/{table}/day={day} holds {len(old)} file(s) of the layout before offset blocks"
            f" ({old[0].name}, ...): run `python -m orchestration.migrate_raw_layout` once, with no run in flight"
        )


def folded_blocks(files: list[Path], schema: pa.Schema) -> dict[str, pa.Table]:
    """A raw day's files of both layouts as this layout's blocks: block name -> rows, each
    offset once (a block's own row first, so a reject keeps its dead-letter flag), by offset.
    Rejects of the earlier layout were dead-lettered before they were written."""
    parts: dict[str, list[pa.Table]] = {}
    for path in sorted(files, key=lambda f: not _CURRENT.fullmatch(f.name)):  # blocks first
        old = pq.read_table(path)
        if "dead_lettered" in schema.names and "dead_lettered" not in old.column_names:
            old = old.append_column("dead_lettered", pa.array([True] * old.num_rows))
        old = old.select(schema.names).cast(schema)
        blocks = pc.divide(old["kafka_offset"], BLOCK)
        for topic, partition, block in sorted(
            set(
                zip(old["kafka_topic"].to_pylist(), old["kafka_partition"].to_pylist(), blocks.to_pylist(), strict=True)
            )
        ):
            mask = pc.and_(pc.equal(old["kafka_topic"], topic), pc.equal(old["kafka_partition"], partition))
            parts.setdefault(block_name(topic, partition, block), []).append(
                old.filter(pc.and_(mask, pc.equal(blocks, block)))
            )
    folded = {}
    for name, tables in parts.items():
        rows = pa.concat_tables(tables)
        rows = rows.append_column("__row", pa.array(range(rows.num_rows), pa.int64()))
        first = rows.group_by("kafka_offset").aggregate([("__row", "min")])["__row_min"]
        folded[name] = rows.take(first).drop_columns(["__row"]).sort_by("kafka_offset")
    return folded
