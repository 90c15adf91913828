"""Spark for the clean steps, through dagster-pyspark's lazy resource: a Spark Connect session
on the one long-lived server (orchestration/spark_server.py; in the compose stack, the server
in front of the cluster), or, with a spark:// `master`, a classic session in the step process
driving a cluster directly.

Over Connect a step process holds no JVM: its session is a gRPC client, so the JVM start and
the cold first queries are paid once by the server, not once per run. What this adds to
dagster-pyspark's `LazyPySparkResource`: the server's address (`SPARK_REMOTE`), starting a local
server when none answers (the local profile), and connecting in the background as the run
starts, so a server (or a driver JVM) that is still booting does so while the pulls and the
landing run.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_pyspark import LazyPySparkResource
from dagster_pyspark.resources import spark_session_from_config
from pydantic import Field, PrivateAttr

from orchestration import spark_server

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Settings of each client's session (per session on the server, so a run cannot change
# another's). Timestamps are parsed and written in UTC whatever the server's zone.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.parquet.compression.codec": "zstd",
}


class SparkResource(LazyPySparkResource):
    """A Spark Connect session: `SPARK_REMOTE` (or `remote`), `sc://127.0.0.1:15002` by default;
    a classic session on `master` when that is set."""

    spark_config: dict[str, Any] = Field(
        default_factory=lambda: dict(SESSION_CONF), description="Settings of every session (runtime SQL settings)."
    )
    remote: str | None = Field(
        default=None,
        description="The Spark Connect server, sc://HOST:PORT; unset: SPARK_REMOTE, else the local default.",
    )
    start_server: bool = Field(
        default=False,
        description="Start a server on this machine (from the pyspark wheel) when none answers: the local profile.",
    )
    master: str | None = Field(
        default=None,
        description="A cluster's master URL: a classic session in the step process instead of Connect "
        "(an sc:// URL here is a Connect server, as `remote`).",
    )
    # In local mode the server's driver is the executor too: a million-row day needs more than
    # 2g. 3g of heap keeps the whole JVM under 4 GiB at ten million rows; Spark spills the rest.
    driver_memory: str = Field(default="3g", description="Of the server this resource starts, or the classic driver.")
    prestart: bool = Field(
        default=True, description="Connect (and start a server if need be) in the background as a run starts."
    )
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def url(self) -> str:
        if self.master and self.master.startswith("sc://"):  # a master that is a Connect server
            return self.master
        return self.remote or spark_server.url()

    def classic(self) -> bool:
        return bool(self.master) and not self.master.startswith("sc://")

    def server_settings(self) -> spark_server.ServerSettings:
        return spark_server.ServerSettings(remote=self.url(), driver_memory=self.driver_memory)

    def classic_config(self) -> dict[str, Any]:
        """A classic driver's settings: the server's own (UI off, the class archive), this
        resource's sessions', the master and the driver's memory."""
        server = spark_server.ServerSettings(remote=spark_server.DEFAULT_URL).java_conf()
        server = {k: v for k, v in server.items() if not k.startswith("spark.connect.")}
        return {
            **server,
            **self.spark_config,
            "spark.master": self.master,
            "spark.app.name": "airstream",
            "spark.driver.memory": self.driver_memory,
        }

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.prestart:
            # Imported here, not first in the thread: at import it builds its logger through
            # PySparkLogger.getLogger, which sets the process's logger class and puts it back
            # unlocked. A logger Dagster creates meanwhile is then a PySparkLogger, and the step
            # fails (CI: "PySparkLogger.__init__() got an unexpected keyword argument 'level'").
            import pyspark.sql.connect.logging  # noqa: F401

            threading.Thread(target=self._prestart, name="spark-prestart", daemon=True).start()

    def _prestart(self) -> None:
        try:
            self.get_session()
        except Exception:  # noqa: BLE001 - the step's own get_session() raises it, in the step's log
            pass

    def _init_session(self) -> None:
        # dagster-pyspark's, with the server ensured first; the lock makes the prestart thread
        # and a step that asks meanwhile share one session.
        with self._lock:
            if self._spark_session is not None:
                return
            if self.classic():
                # pyspark makes every session a Connect one while either is set in the process.
                connect_mode = [name for name in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED") if name in os.environ]
                if connect_mode:
                    raise dg.DagsterInvariantViolationError(
                        f"a classic Spark session on {self.master} was asked for, but {' and '.join(connect_mode)} "
                        "is set in this process, which makes pyspark build Spark Connect sessions only: unset it, "
                        "or give an sc:// URL to use a Connect server"
                    )
                self._spark_session = spark_session_from_config(self.classic_config())
                return
            if self.start_server:
                ceiling = float(os.environ.get("SPARK_CONNECT_START_SECONDS", "600"))
                spark_server.ensure(self.server_settings(), ceiling)
            self._spark_session = spark_session_from_config({"spark.remote": self.url(), **self.spark_config})

    def get_session(self) -> SparkSession:
        return self.spark_session
