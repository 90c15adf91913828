"""Read-only access to the marts: a DuckDB snapshot (local profile) or PostgreSQL as the
reader role (prod). Both answer `rows(sql, params)` and `version()`, the stamp cache keys carry.

DuckDB takes an exclusive file lock for a writer and a shared one for a read-only opener,
and a writer that finds the file locked fails at once instead of waiting: an API holding the
pipeline's warehouse open, even read-only, would fail the next run. So the API never opens
that file. It copies it (no lock taken) to a private snapshot and serves from the copy; a
copy counts only if the file did not change while it was read and no write-ahead log was
pending (a commit that is only in the WAL is not in the main file yet), and it must open and
answer. The source is looked at again at most every `check_seconds`; a new copy replaces the
old one, and until one succeeds the last good snapshot keeps serving.
"""

import os
import shutil
import threading
import time
from contextlib import closing
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.pool

# Schemas whose tables the API serves: what the PostgreSQL version stamp covers.
SERVED_SCHEMAS = ("marts", "catalog")
# Longer than any page query takes: the API answers in milliseconds, a slow scan in seconds.
RETIRE_SECONDS = 60.0


class WarehouseUnavailable(RuntimeError):
    pass


def _identity(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class DuckDBSnapshotReader:
    placeholder = "?"

    def __init__(self, source: Path, snapshot_dir: Path | None = None, check_seconds: float = 1.0):
        self.source = Path(source)
        self.snapshot_dir = Path(snapshot_dir or self.source.parent / ".serving")
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple | None = None
        self._checked = 0.0
        self.snapshots_taken = 0
        self._retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []

    def _copy(self) -> tuple | None:
        """A consistent copy of the source, opened; None if the source was busy."""
        wal = self.source.with_name(self.source.name + ".wal")
        before = _identity(self.source)
        if before is None or wal.exists():
            return None
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        target = self.snapshot_dir / f"warehouse-{os.getpid()}-{time.time_ns()}.duckdb"
        shutil.copyfile(self.source, target)
        if _identity(self.source) != before or wal.exists():
            target.unlink(missing_ok=True)
            return None
        try:
            con = duckdb.connect(str(target), read_only=True)
            con.execute("select count(*) from information_schema.tables").fetchone()
        except duckdb.Error:
            target.unlink(missing_ok=True)
            return None
        return before, con, target

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._con is not None and now - self._checked < self.check_seconds:
            return
        with self._lock:
            if self._con is not None and time.monotonic() - self._checked < self.check_seconds:
                return
            self._checked = time.monotonic()
            if self._con is not None and _identity(self.source) == self._identity:
                return
            taken = self._copy()
            if taken is None:
                if self._con is None:
                    raise WarehouseUnavailable(f"no readable snapshot of {self.source} yet")
                return
            identity, con, target = taken
            old = self._con
            self._con, self._identity = con, identity
            self.snapshots_taken += 1
            # Closing a DuckDB connection closes its cursors too: a request still reading the old
            # snapshot would fail. Retired snapshots are closed once no request can still be on them.
            now = time.monotonic()
            if old is not None:
                self._retired.append((now, old))
            while self._retired and now - self._retired[0][0] > RETIRE_SECONDS:
                self._retired.pop(0)[1].close()
            for stale in self.snapshot_dir.glob(f"warehouse-{os.getpid()}-*.duckdb"):
                if stale != target:
                    stale.unlink(missing_ok=True)

    def rows(self, sql: str, params: list) -> list[dict]:
        self._refresh()
        with closing(self._con.cursor()) as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]

    def version(self) -> str:
        self._refresh()
        return "duckdb:" + ":".join(str(part) for part in self._identity)

    def close(self) -> None:
        for _, con in self._retired:
            con.close()
        self._retired.clear()
        if self._con is not None:
            self._con.close()
            self._con = None
        for stale in self.snapshot_dir.glob(f"warehouse-{os.getpid()}-*.duckdb"):
            stale.unlink(missing_ok=True)


class PostgresReader:
    """PostgreSQL, read-only: the login's session becomes the reader role, read-only."""

    placeholder = "%s"

    def __init__(
        self,
        host: str,
        port: int,
        dbname: str,
        user: str,
        password: str | None,
        role: str,
        check_seconds: float = 1.0,
        max_connections: int = 8,
    ):
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            0,
            max_connections,
            host=host,
            port=port,
            dbname=dbname,
            user=user,
            password=password,
            connect_timeout=5,
            options=f"-c role={role} -c default_transaction_read_only=on -c statement_timeout=10000",
        )
        self.check_seconds = check_seconds
        self._version: str | None = None
        self._checked = 0.0

    def rows(self, sql: str, params: list) -> list[dict]:
        try:
            conn = self._pool.getconn()
        except psycopg2.OperationalError as error:  # the server is down: 503, not 500
            raise WarehouseUnavailable(str(error)) from error
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                names = [d[0] for d in cur.description]
                out = [dict(zip(names, row, strict=False)) for row in cur.fetchall()]
            conn.rollback()
            return out
        except psycopg2.OperationalError as error:
            self._pool.putconn(conn, close=True)
            conn = None
            raise WarehouseUnavailable(str(error)) from error
        except psycopg2.Error:
            conn.rollback()  # a pooled connection must not go back inside a failed transaction
            raise
        finally:
            if conn is not None:
                self._pool.putconn(conn)

    def version(self) -> str:
        """Each served table's identity and write counters (the marts, and the file catalogue
        the catalogue asset writes): a rebuilt table has a new oid, an incremental day replaced
        moves its insert/delete counters. The counters are PostgreSQL's cumulative statistics,
        published when the writing session commits its stats (at the latest when dbt's session
        ends), which is why the cache also has a TTL."""
        now = time.monotonic()
        if self._version is None or now - self._checked >= self.check_seconds:
            stats = self.rows(
                "select schemaname, relname, relid, n_tup_ins, n_tup_upd, n_tup_del from pg_stat_user_tables"
                f" where schemaname in ({', '.join(repr(s) for s in SERVED_SCHEMAS)}) order by schemaname, relname",
                [],
            )
            self._version = "pg:" + ";".join(
                f"{s['schemaname']}.{s['relname']}={s['relid']}/{s['n_tup_ins']}/{s['n_tup_upd']}/{s['n_tup_del']}"
                for s in stats
            )
            self._checked = now
        return self._version

    def close(self) -> None:
        self._pool.closeall()


def reader_for(settings):
    if settings.profile == "local":
        return DuckDBSnapshotReader(settings.duckdb_path, settings.snapshot_dir, settings.version_check_seconds)
    return PostgresReader(
        settings.pg_host,
        settings.pg_port,
        settings.pg_db,
        settings.pg_user,
        settings.pg_password,
        settings.reader_role,
        settings.version_check_seconds,
    )
