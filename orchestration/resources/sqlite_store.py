"""Opening the local profile's SQLite stores (the topic log, the MongoDB and Cassandra stand-ins)
safely when several processes open a new file at once, as the sensor daemon and a run do on a
fresh DATA_DIR.

Switching a file to WAL needs an exclusive lock that SQLite takes once, without its busy
handler: a second process merely reading the file at that moment makes the switch fail with
"database is locked". So each open first takes an flock on a lock file beside the database and
checks, under it, that the file is initialised (WAL, tables, `user_version`); the one process
that finds it is not does the work while the others wait. The lock is held for one header read
on every later open, never during the caller's transactions.
"""

import fcntl
import sqlite3
from pathlib import Path


class StoreLayoutMismatch(RuntimeError):
    """The file was written with another table layout than the one this code reads."""


def open_store(
    path: str,
    schema: str,
    timeout_seconds: float,
    isolation_level: str | None = "",
    layout: int = 1,
    check_same_thread: bool = True,
    page_size: int | None = None,
) -> sqlite3.Connection:
    """A connection to the SQLite file `path`, created with `schema` (idempotent DDL) if new.

    `layout` is the version of `schema`, kept in `user_version`: a file of another layout is
    refused rather than half-read (local data: the message says which file to delete).
    `page_size` applies to a new file only (an existing one keeps its pages)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=timeout_seconds, isolation_level=isolation_level, check_same_thread=check_same_thread
    )
    try:
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released by close, or by the kernel if we die
            found = conn.execute("pragma user_version").fetchone()[0]
            if found not in (0, layout):
                raise StoreLayoutMismatch(
                    f"{path} has table layout {found}, this version reads layout {layout}: it holds"
                    " local data only, delete it (and its -wal, -shm files) to start afresh"
                )
            if found == 0:
                if page_size is not None:  # before WAL: a WAL file's page size is fixed
                    conn.execute(f"pragma page_size = {int(page_size)}")
                # WAL is persistent: readers never wait for the writer, in every process.
                conn.execute("pragma journal_mode=wal")
                conn.executescript(f"begin immediate; {schema}; pragma user_version = {layout}; commit;")
    except BaseException:
        conn.close()
        raise
    return conn
