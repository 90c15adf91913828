"""The raw zone's holding area: valid messages of days that are not partitions yet.

A message dated after the newest partition (a clock in the future, or just past midnight) is
landed at once into `raw/<table>_held/day=<its day>/`, in the same offset blocks as the landed
table (assets/landing/write.py), so it is keyed by identity (topic, partition, offset) like every
landed message: the consumer group commits past it and retention can no longer lose it.

When its day is landed (that day's partition run, from ranges or whole-day), each held block
of the day is merged into the day's block of the same name (rows whose offsets the day holds
already are not added), and only once that merge is swapped in is the held day swapped in
without the block. A crash in between leaves the message in both places: the next landing of
the day merges nothing new and removes it, and the commit (assets/offsets.py) finds it in either.

What the holding area holds is watched (`held_days`, `overdue`): a message still held once its
day has been a partition for more than HELD_MESSAGE_ALERT_DAYS (orchestration/held_messages.py)
was not moved in by its day's landing. Messages moved in are counted from the raw zone itself
(`released_rows`), not from the metadata of the runs that moved them.
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.core.days import day_window
from assets.core.lake_days import parquet_files, parquet_rows
from assets.core.stream import OffsetRange
from assets.landing.write import merge_new, read_block
from assets.log_history import TOPIC_ID_KEY, refuse_other_block
from assets.ports import Lake


def held_table(table: str) -> str:
    return f"{table}_held"


def hold(lake: Lake, table: str, day: date, name: str, rows: pa.Table) -> int:
    """Hold `rows` (messages of `day`, one block `name`) until `day` is landed; returns rows
    added. Offsets the held block or the day's own block already holds are not added."""
    if not rows.num_rows:
        return 0
    with lake.edit_partition("raw", held_table(table), day) as edit:
        in_day = read_block(lake, table, day, name, pa.schema([rows.schema.field("kafka_offset")]))
        rows = rows.filter(pc.invert(pc.is_in(rows["kafka_offset"], in_day["kafka_offset"])))
        return merge_new(edit, name, rows) if rows.num_rows else 0


def release_held(lake: Lake, table: str, day: date) -> int:
    """Move the messages held for `day` into the day's raw partition; returns rows added there.

    Lock order: the held day, then the day (landing takes the day's alone)."""
    held = held_table(table)
    added = 0
    for path in sorted(parquet_files(lake.partition_dir("raw", held, day))):
        name = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        with lake.edit_partition("raw", held, day) as held_day:
            source = held_day.directory / f"{name}.parquet"
            if not source.exists():  # another landing of the day moved it meanwhile
                continue
            rows = pq.read_table(source)  # with its schema's topic id, kept in the day's block
            topic_id = (rows.schema.metadata or {}).get(TOPIC_ID_KEY)
            with lake.edit_partition("raw", table, day) as into:
                if rows.num_rows:
                    first = OffsetRange(rows["kafka_topic"][0].as_py(), rows["kafka_partition"][0].as_py(), 0, 0)
                    refuse_other_block(lake, table, day, name, first, topic_id and topic_id.decode())
                    added += merge_new(into, name, rows)
            # Only once the day's block holds every row: a crash before this line loses nothing.
            held_day.remove_file(name)
    return added


def held_rows(lake: Lake, table: str, day: date) -> int:
    """Messages held for `day` (the loss accounting's `held` term)."""
    return parquet_rows(lake.partition_dir("raw", held_table(table), day))


def held_days(lake: Lake, table: str) -> dict[date, int]:
    """Messages in the holding area per event day, from the Parquet footers (no data read)."""
    held = held_table(table)
    stored = lake.read_days("raw", held, lake.table_days("raw", held))
    counts = {day: stored.rows(day) for day in stored.days}
    return {day: n for day, n in counts.items() if n}  # a released day keeps its empty directory


def overdue(held: Mapping[date, int], now: datetime, alert_days: float) -> dict[date, int]:
    """The held days that have been partitions (since their end) for more than `alert_days`
    days at `now`: their landing should have moved the messages in and has not."""
    return {day: n for day, n in held.items() if now - day_window(day)[1] > timedelta(days=alert_days)}


def released_rows(lake: Lake, table: str, day: date) -> int:
    """Messages of the raw `day` that came through the holding area: those ingested before the
    day ended. A landing lands a day only once it has ended (it is a partition then), and a
    release keeps a row's `ingested_at`, so only a held message can be older than its day's end.
    A row group whose footer says every row was ingested later is not read."""
    end, released = day_window(day)[1], 0
    for path in parquet_files(lake.partition_dir("raw", table, day)):
        parquet = pq.ParquetFile(path)
        column = parquet.schema_arrow.get_field_index("ingested_at")
        for group in range(parquet.metadata.num_row_groups):
            stats = parquet.metadata.row_group(group).column(column).statistics
            if stats is not None and stats.has_min_max and stats.min >= end:
                continue
            times = parquet.read_row_group(group, columns=["ingested_at"])["ingested_at"]
            released += pc.sum(pc.less(times, pa.scalar(end, times.type))).as_py() or 0
    return released
