"""The lake: Parquet tables partitioned by UTC day under one root directory.

The root is a local disk in the local profile and a volume shared with the Spark workers in
prod. Layout: ``<root>/<zone>/<table>/day=YYYY-MM-DD/*.parquet``, where ``day=YYYY-MM-DD`` is a
relative symbolic link to a version directory ``.day=YYYY-MM-DD.v-<hex>`` beside it. A writer
builds a new version and points the link at it with one rename(2), which is atomic: a reader,
or a writer killed at any point, finds the previous day or the new one, never a mix or nothing.
Every write goes this way: a whole day (`staged_partition`), a range (`staged_days`), or one
file of a day (`edit_partition`: the raw zone's offset blocks, merged by offset), whose new
version hard-links the day's other files. One lock per day (an flock beside the link) orders a
day's writers, whoever they are; the raw zone has no lock of its own.
The replaced version stays where it is, marked retired by an empty file beside it
(``.day=YYYY-MM-DD.v-<hex>.retired-<ns>``), and is deleted once it has been retired for
``RETIRED_VERSION_GRACE_SECONDS``. Readers pin the version the link points at when they list a day
(assets/core/lake_days.py lists the version's own path), so a reader that planned its files just
before a swap reads them whole, from the version it planned, for the grace period.
Spark and pyarrow skip names starting with ``.`` when they discover partitions, so the versions,
the per-day lock file and the staging of a range write (``.staging-<hex>``, see `staged_days`)
are invisible to them.
"""

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.core.lake_days import LakeDays, day_name, listed_days

# Rows per Parquet row group: a reader holds a whole row group's column in memory, and raw
# payload columns are wide.
ROW_GROUP_ROWS = 20_000
# How long a replaced version stays on disk after the swap (see `_retire`).
RETIRED_VERSION_GRACE_SECONDS = 600
# Names of the hidden directories a write of several days at once stages into (`staged_days`).
STAGING_PREFIX = ".staging-"


class LakeResource(dg.ConfigurableResource):
    """Paths of the lake's zones and the one way to write a day partition, Python or Spark."""

    root: str

    def partition_dir(self, zone: str, table: str, day: date) -> Path:
        return Path(self.root) / zone / table / day_name(day)

    def read_days(self, zone: str, table: str, days: Iterable[date]) -> LakeDays:
        """The given days of a table, to read (lazily, through the day's current version)."""
        return LakeDays(zone, table, {day: self.partition_dir(zone, table, day) for day in days})

    def table_days(self, zone: str, table: str) -> list[date]:
        """The days the lake holds of a table, oldest first (a day emptied by a move keeps its
        directory, so it is listed)."""
        return listed_days(Path(self.root) / zone / table)

    def current_version(self, zone: str, table: str, day: date) -> str | None:
        """The name of the version the day points at (the day's own name for a day written before
        versions), or None when the lake has no such day: what a warehouse copy is stamped with."""
        final = self.partition_dir(zone, table, day)
        if not final.is_dir():
            return None
        return os.readlink(final) if final.is_symlink() else final.name

    @contextmanager
    def locked_day(self, zone: str, table: str, day: date) -> Iterator[str | None]:
        """The day's current version (as `current_version`), held under the day's lock: no writer
        swaps it until the block exits."""
        with _day_lock(self.partition_dir(zone, table, day)):
            yield self.current_version(zone, table, day)

    @contextmanager
    def staged_partition(self, zone: str, table: str, day: date) -> Iterator[Path]:
        """An empty directory for the day's next version, swapped in when the block exits cleanly.

        Write every file of the day into it (`df.write.mode("overwrite").parquet(str(path))` for
        Spark). Writers of one day queue on a lock held for the whole block, so two of them never
        interleave; an exception (or a killed process) leaves the current version as it was.
        """
        final = self.partition_dir(zone, table, day)
        with _day_lock(final):
            version = _new_version(final)
            try:
                yield version
            except BaseException:
                shutil.rmtree(version, ignore_errors=True)
                raise
            _swap_in(version, final)

    @contextmanager
    def staged_days(self, zone: str, table: str) -> Iterator[Path]:
        """A hidden directory beside the table's days for one write of a whole range (Spark's
        `partitionBy`), deleted when the block exits. It is not a version: the caller moves each
        day's files into that day's `staged_partition`, so every day is still swapped alone
        and a kill mid-range leaves each day old or new.

        A writer killed inside the block leaves its directory; the next `staged_days` of the
        table deletes it. The writer's lock tells a live directory from an abandoned one (the
        kernel drops a dead holder's flock), and it is taken before its name is visible, so no
        sweep ever sees a live writer's lock free.
        """
        table_dir = Path(self.root) / zone / table
        table_dir.mkdir(parents=True, exist_ok=True)
        _sweep_abandoned_staging(table_dir)
        name = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        pending = table_dir / f".{name}.lock-pending"
        with open(pending, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            lock = table_dir / f"{name}.lock"
            os.replace(pending, lock)
            staging = table_dir / name
            try:
                staging.mkdir()
                yield staging
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                lock.unlink(missing_ok=True)

    def write_partition(
        self,
        zone: str,
        table: str,
        day: date,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> int:
        """Replace one day of a table with `batches`; returns the rows written."""
        with self.staged_partition(zone, table, day) as staging:
            return write_parquet(staging / "part-0.parquet", schema, batches)

    def write_file(
        self,
        zone: str,
        table: str,
        day: date,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> int:
        """Write (or overwrite) one named file of a day partition, as a new version; returns rows.

        Consumers that land a slice of a stream name the file after the slice, so a retry
        replaces its own file and never adds a second copy.
        """
        with self.edit_partition(zone, table, day) as edit:
            return edit.write_file(name, schema, batches)

    @contextmanager
    def edit_partition(self, zone: str, table: str, day: date) -> Iterator["PartitionEdit"]:
        """The day under its lock, to read and change file by file (a read-merge-write of one file,
        or a file moved between two tables, each under both days' locks): no other writer swaps
        the day until the block exits. Each change is a new version of the day, the current one's
        other files hard-linked into it (nothing copied), swapped in like any other write."""
        final = self.partition_dir(zone, table, day)
        with _day_lock(final):
            yield PartitionEdit(final)


class PartitionEdit:
    """One day of a table under its lock (`LakeResource.edit_partition`)."""

    def __init__(self, final: Path):
        # The day's link: under the lock it leads to the current version, whatever was swapped in.
        self.directory = final

    def write_file(self, name: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        """Write (or overwrite) `<name>.parquet`, swapped in with the day's other files; returns rows."""
        version = self._next_version(without=f"{name}.parquet")
        try:
            rows = write_parquet(version / f"{name}.parquet", schema, batches)
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        _swap_in(version, self.directory)
        return rows

    def remove_file(self, name: str) -> None:
        """Swap in the day without `<name>.parquet`."""
        _swap_in(self._next_version(without=f"{name}.parquet"), self.directory)

    def _next_version(self, without: str) -> Path:
        # Hard links: the new version shares every unchanged file with the current one, which a
        # reader that pinned it still reads whole; a changed file is a new file, never written
        # in place. Hidden files (the lock of the earlier raw layout, temporary files) stay behind.
        version = _new_version(self.directory)
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if path.is_file() and not path.name.startswith(".") and path.name != without:
                    os.link(path, version / path.name)
        return version


def write_parquet(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """One Parquet file of `batches`; returns the rows written."""
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            rows += batch.num_rows
    return rows


@contextmanager
def _day_lock(final: Path) -> Iterator[None]:
    # flock, not a lock directory: the kernel releases it when its holder dies, so a killed
    # writer never blocks the day. The lock file stays: deleting it would let two holders in.
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _new_version(final: Path) -> Path:
    version = final.with_name(f".{final.name}.v-{uuid.uuid4().hex}")
    version.mkdir()
    return version


def _swap_in(version: Path, final: Path) -> None:
    """Point `final` at `version` with one atomic rename, then retire every other version.

    Called under the day's lock, so any other version beside it is a retired one or the debris
    of a writer that died: nobody is writing it.
    """
    link = final.with_name(f".{final.name}.link-{uuid.uuid4().hex}")
    os.symlink(version.name, link)  # relative: the volume may be mounted elsewhere on workers
    if final.is_dir() and not final.is_symlink():
        # A plain directory cannot be replaced by a link in one rename: this one-time move of a
        # day written before versions existed is the only non-atomic step.
        final.rename(final.with_name(f".{final.name}.v-{uuid.uuid4().hex}"))
    os.replace(link, final)
    already = retired_versions(final.parent)
    for sibling in final.parent.iterdir():
        if sibling.name in (version.name, f".{final.name}.lock") or ".retired-" in sibling.name:
            continue
        if sibling.name.startswith((f".{final.name}.v-", f".{final.name}.link-")):
            if sibling.is_dir() and not sibling.is_symlink():
                if sibling.name not in already:
                    _retire(sibling)
            else:
                sibling.unlink(missing_ok=True)
    _sweep_retired(final.parent)


def _sweep_abandoned_staging(table_dir: Path) -> None:
    """Delete the range staging directories of writers that died (see `staged_days`)."""
    for staging in table_dir.glob(f"{STAGING_PREFIX}*"):
        if not staging.is_dir():
            continue
        lock = staging.with_name(f"{staging.name}.lock")
        try:
            handle = open(lock)  # noqa: SIM115 - held across the deletion below
        except FileNotFoundError:  # a directory whose writer's lock is gone: nobody writes it
            shutil.rmtree(staging, ignore_errors=True)
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live writer
                continue
            shutil.rmtree(staging, ignore_errors=True)
            lock.unlink(missing_ok=True)


def retired_versions(table_dir: Path) -> set[str]:
    """Names of the table's version directories that are marked retired (no link leads to them)."""
    return {p.name.partition(".retired-")[0] for p in table_dir.iterdir() if ".retired-" in p.name}


def _retire(version: Path) -> None:
    # Left at its path: a reader that resolved the day's link to it just before the swap (a
    # planned pyarrow dataset, an open directory handle) still reads every file it listed. The
    # link was replaced first, so nothing new can lead to it; it is deleted after a grace period.
    (version.parent / f"{version.name}.retired-{time.time_ns()}").touch()


def _sweep_retired(table_dir: Path) -> None:
    """Delete the table's versions retired longer ago than the grace period (any day's)."""
    horizon = time.time_ns() - RETIRED_VERSION_GRACE_SECONDS * 1_000_000_000
    for path in table_dir.iterdir():
        name, marker, stamp = path.name.partition(".retired-")
        retired_at = stamp.split("-", 1)[0]
        if not (marker and retired_at.isdigit() and int(retired_at) < horizon):
            continue
        # Nobody resolves a retired version any more: no lock needed.
        if path.is_dir():  # a version renamed away by an earlier release of this module
            shutil.rmtree(path, ignore_errors=True)
        else:  # the marker: the version first, so a marker never outlives an undeleted version
            shutil.rmtree(table_dir / name, ignore_errors=True)
            path.unlink(missing_ok=True)
