"""Lake day partitions: a writer killed at any step, or two writers at once, never leave a day
missing, half-written or mixed."""

import os
import subprocess
import sys
import textwrap
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from orchestration.resources import lake as lake_module
from orchestration.resources.lake import LakeResource

DAY = date(2026, 11, 20)
SCHEMA = pa.schema([("writer", pa.string()), ("n", pa.int64())])


def batch(writer: str, start: int, rows: int) -> pa.RecordBatch:
    return pa.record_batch([pa.array([writer] * rows), pa.array(range(start, start + rows))], schema=SCHEMA)


def versions(table_dir):
    """The live version directories (one per day): retired ones wait out their grace period."""
    retired = lake_module.retired_versions(table_dir)
    return sorted(p.name for p in table_dir.iterdir() if p.is_dir() and ".v-" in p.name and p.name not in retired)


def writers(table: pa.Table) -> dict[str, int]:
    return {w: table.filter(pc.equal(table["writer"], w)).num_rows for w in set(table["writer"].to_pylist())}


def read_day(lake: LakeResource) -> dict[str, int]:
    """The day as the platform's readers take it (LakeDays: the files of the version pinned)."""
    return writers(lake.read_days("raw", "t", [DAY]).read(DAY))


def test_a_day_is_read_through_its_link_by_every_reader(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("a", 0, 3)])
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("b", 0, 4)])
    lake.write_file("raw", "t", DAY, "slice", SCHEMA, [batch("c", 0, 1)])
    lake.write_partition("raw", "t", date(2026, 11, 21), SCHEMA, [batch("d", 0, 2)])
    day_dir = lake.partition_dir("raw", "t", DAY)

    assert day_dir.is_symlink() and len(versions(tmp_path / "raw" / "t")) == 2  # one per day
    assert read_day(lake) == {"b": 4, "c": 1}
    assert sorted(p.name for p in day_dir.glob("*.parquet")) == ["part-0.parquet", "slice.parquet"]
    # The table's days are its links: not the hidden versions or lock files beside them.
    assert lake.table_days("raw", "t") == [DAY, date(2026, 11, 21)]
    assert lake.table_days("raw", "never_written") == []
    # Partition discovery over the table root skips the hidden versions and the lock files.
    table = pa_ds.dataset(tmp_path / "raw" / "t", partitioning="hive").to_table()
    assert table.group_by("day").aggregate([("n", "count")]).sort_by("day").to_pylist() == [
        {"day": "2026-11-20", "n_count": 5},
        {"day": "2026-11-21", "n_count": 2},
    ]
    pattern = f"{tmp_path}/raw/t/day=*/*.parquet"
    assert duckdb.sql(f"select count(*) from read_parquet('{pattern}', hive_partitioning = true)").fetchall() == [(7,)]


def test_a_plain_day_directory_from_before_versions_is_adopted(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    day_dir = lake.partition_dir("raw", "t", DAY)
    day_dir.mkdir(parents=True)
    pq.write_table(pa.Table.from_batches([batch("old", 0, 2)]), day_dir / "part-0.parquet")
    lake.write_file("raw", "t", DAY, "slice", SCHEMA, [batch("new", 0, 1)])
    assert day_dir.is_symlink() and read_day(lake) == {"old": 2, "new": 1}
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("all", 0, 3)])
    assert read_day(lake) == {"all": 3} and len(versions(tmp_path / "raw" / "t")) == 1


def test_a_replaced_version_stays_whole_for_the_grace_period_then_is_swept(tmp_path, monkeypatch):
    lake = LakeResource(root=str(tmp_path))
    table_dir = tmp_path / "raw" / "t"
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("a", 0, 3)])
    # A reader plans the day (its files listed, nothing read yet), then a writer swaps the day.
    planned = pa_ds.dataset(lake.read_days("raw", "t", [DAY]).files(DAY), format="parquet")
    listed_before_the_swap = os.path.realpath(lake.partition_dir("raw", "t", DAY))
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("b", 0, 4)])

    assert os.path.realpath(lake.partition_dir("raw", "t", DAY)) != listed_before_the_swap  # the link moved on
    assert lake_module.retired_versions(table_dir) == {os.path.basename(listed_before_the_swap)}
    assert writers(planned.to_table()) == {"a": 3}  # the plan reads the version it planned, whole
    assert read_day(lake) == {"b": 4}

    monkeypatch.setattr(lake_module, "RETIRED_VERSION_GRACE_SECONDS", 0)
    lake.write_partition("raw", "t", date(2026, 11, 21), SCHEMA, [batch("c", 0, 1)])  # another day
    assert lake_module.retired_versions(table_dir) == set()  # swept by any later swap in the table
    assert not os.path.exists(listed_before_the_swap)
    assert read_day(lake) == {"b": 4} and len(versions(table_dir)) == 2
    assert sorted(p.name for p in table_dir.iterdir() if ".v-" in p.name) == versions(table_dir)


# Kills the writer with SIGKILL at its N-th filesystem step (or batch handed to the writer).
KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from datetime import date
    import pyarrow as pa
    from orchestration.resources.lake import LakeResource

    root, kill_at = sys.argv[1], int(sys.argv[2])
    steps = 0

    def step():
        global steps
        steps += 1
        if steps == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def hooked(function):
        def call(*args, **kwargs):
            step()
            return function(*args, **kwargs)
        return call

    for name in ("mkdir", "rename", "replace", "symlink", "link", "unlink", "rmdir"):
        setattr(os, name, hooked(getattr(os, name)))
    schema = pa.schema([("writer", pa.string()), ("n", pa.int64())])

    def batches():
        for start in (0, 500):
            step()
            yield pa.record_batch([pa.array(["new"] * 500), pa.array(range(start, start + 500))], schema=schema)

    lake = LakeResource(root=root)
    if sys.argv[3:] == ["file"]:  # one file of the day changed: the raw zone's merge of a block
        lake.write_file("raw", "t", date(2026, 11, 20), "slice", schema, batches())
    else:
        lake.write_partition("raw", "t", date(2026, 11, 20), schema, batches())
""")


def test_a_writer_killed_at_any_step_leaves_the_previous_or_the_new_day_whole(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    outcomes = []
    for kill_at in range(1, 50):
        lake.write_partition("raw", "t", DAY, SCHEMA, [batch("old", 0, 300)])
        done = subprocess.run(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path), str(kill_at)],
            check=False,
            capture_output=True,
            text=True,
        )
        assert done.returncode in (0, -9), done.stderr
        day = read_day(lake)
        assert day in ({"old": 300}, {"new": 1000}), f"killed at step {kill_at}: {day}"
        assert sorted(pq.read_table(lake.partition_dir("raw", "t", DAY))["n"].to_pylist()) == (
            list(range(300)) if day == {"old": 300} else list(range(1000))
        )
        outcomes.append(day)
        if done.returncode == 0:
            break
    else:
        raise AssertionError("the writer never finished")
    assert {"old": 300} in outcomes and outcomes[-1] == {"new": 1000}
    assert len(outcomes) > 5  # the kill points covered the whole write
    # The next writer clears what the killed ones left behind.
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("old", 0, 1)])
    assert len(versions(tmp_path / "raw" / "t")) == 1


def test_a_writer_of_one_file_killed_at_any_step_leaves_the_day_without_it_or_with_it_whole(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    outcomes = []
    for kill_at in range(1, 50):
        lake.write_partition("raw", "t", DAY, SCHEMA, [batch("old", 0, 300)])
        done = subprocess.run(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path), str(kill_at), "file"],
            check=False,
            capture_output=True,
            text=True,
        )
        assert done.returncode in (0, -9), done.stderr
        day = read_day(lake)
        assert day in ({"old": 300}, {"old": 300, "new": 1000}), f"killed at step {kill_at}: {day}"
        # The day's other file, shared with the version before by a hard link, is intact.
        assert pq.read_table(lake.partition_dir("raw", "t", DAY) / "part-0.parquet")["n"].to_pylist() == list(
            range(300)
        )
        outcomes.append(day)
        if done.returncode == 0:
            break
    else:
        raise AssertionError("the writer never finished")
    assert {"old": 300} in outcomes and outcomes[-1] == {"old": 300, "new": 1000}
    assert len(outcomes) > 5  # the kill points covered the whole write
    lake.write_file("raw", "t", DAY, "slice", SCHEMA, [batch("again", 0, 1)])
    assert read_day(lake) == {"old": 300, "again": 1} and len(versions(tmp_path / "raw" / "t")) == 1


CONCURRENT_WRITER = textwrap.dedent("""
    import sys, time
    from datetime import date
    from pathlib import Path
    import pyarrow as pa
    from orchestration.resources.lake import LakeResource

    root, name, rows, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    schema = pa.schema([("writer", pa.string()), ("n", pa.int64())])
    (ready / name).touch()
    while len(list(ready.iterdir())) < 2:  # both writers start writing together
        time.sleep(0.01)
    lake = LakeResource(root=root)
    for _ in range(40):
        half = rows // 2
        lake.write_partition("raw", "t", date(2026, 11, 20), schema, [
            pa.record_batch([pa.array([name] * half), pa.array(range(half))], schema=schema),
            pa.record_batch([pa.array([name] * half), pa.array(range(half, rows))], schema=schema)])
""")


def test_two_concurrent_writers_leave_one_whole_version_and_readers_never_see_a_mix(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_partition("raw", "t", DAY, SCHEMA, [batch("old", 0, 10)])
    ready = tmp_path / "ready"
    ready.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(tmp_path), name, str(rows), str(ready)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, rows in (("a", 1000), ("b", 2000))
    ]
    whole = ({"old": 10}, {"a": 1000}, {"b": 2000})
    seen = []
    while any(w.poll() is None for w in processes):
        # Every read is one whole version, whatever the writers swap while it plans and reads:
        # no read may fail (a swap leaves the version a reader planned in place).
        seen.append(read_day(lake))
        assert seen[-1] in whole
    assert [w.wait() for w in processes] == [0, 0], [w.stderr.read() for w in processes]
    assert read_day(lake) in whole[1:]
    assert len(versions(tmp_path / "raw" / "t")) == 1
    assert len(seen) > 10
