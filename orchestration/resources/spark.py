"""One SparkSession per process, configured once.

`getOrCreate()` silently ignores static settings on a second call, so every asset asks this
resource for the session instead of building its own.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from orchestration.resources.spark_classes import DEFAULT_ARCHIVE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkResource(dg.ConfigurableResource):
    """Spark: `local[*]` in the local profile, a cluster master URL in prod."""

    master: str = "local[*]"
    app_name: str = "airstream"
    # In local mode the driver is the executor too: a million-row day needs more than 2g. 3g of
    # heap keeps the whole JVM (heap, metaspace, code cache, buffers) under 4 GiB at ten million
    # rows; a 4g heap grew to 4.7 GB there. Spark spills what does not fit.
    driver_memory: str = "3g"
    shuffle_partitions: int = 4
    conf: dict[str, str] = {}
    prestart: bool = Field(
        default=True, description="Start the session in the background as a run that uses Spark starts."
    )
    class_archive: str | None = Field(
        default=str(DEFAULT_ARCHIVE),
        description="The driver JVM's class-data-sharing archive (orchestration/resources/spark_classes.py), "
        "used when the file exists: a JVM start and the first steps a few seconds shorter.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # The JVM takes 8-20 s to start and the first Spark step comes after the pulls and the
        # landing: started now, it boots while they run. getOrCreate holds SparkContext's lock,
        # so a step asking meanwhile waits for this session instead of building a second one.
        if self.prestart:
            threading.Thread(target=self._prestart, name="spark-prestart", daemon=True).start()

    def _prestart(self) -> None:
        try:
            self.get_session()
        except Exception:  # noqa: BLE001 - the step's own get_session() raises it, in the step's log
            pass

    def java_conf(self) -> dict[str, str]:
        """`conf`, with the class archive (when there is one) added to the driver's JVM options."""
        conf = dict(self.conf)
        if self.class_archive and os.path.exists(self.class_archive):
            option = f"-XX:SharedArchiveFile={self.class_archive}"
            conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {option}".strip()
        return conf

    def get_session(self) -> SparkSession:
        from pyspark.sql import SparkSession  # ~0.7 s: only where Spark runs

        if self.master.startswith("local"):
            # Without it Spark binds the first non-loopback address, which may not route.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Workers must run this interpreter, or they miss pyarrow and the project's code.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (
            SparkSession.builder.master(self.master)
            .appName(self.app_name)
            .config("spark.driver.memory", self.driver_memory)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(self.shuffle_partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.parquet.compression.codec", "zstd")
        )
        for key, value in self.java_conf().items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("WARN")
        return session
