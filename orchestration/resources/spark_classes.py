"""The JVM's class-data-sharing archive of the classes the Spark Connect server loads (`make
setup` writes it).

A new JVM spends most of its first seconds loading, verifying and interpreting Spark's classes:
on this 2-core machine the first clean step of a run took 8-11 s of which a warm JVM needs 2.
With the archive the JVM maps those classes ready-parsed instead (JDK 13+ dynamic CDS). It is
valid for the one Java build and the one set of Spark jars it was dumped with, so it lives in
the virtual environment beside the jars; a JVM that finds it stale ignores it and loads the
classes itself, which is only slower.

Run as `python -m orchestration.resources.spark_classes PATH`: starts a Spark Connect server
(orchestration/spark_server.py) with `-XX:ArchiveClassesAtExit`, runs the kinds of work the
clean steps do through a client (JSON parsing, windows, dedupes, aggregates, Parquet written and
read back), stops the server (the archive is written as its JVM exits) and moves the archive
into place atomically.
"""

import sys
import tempfile
from pathlib import Path

from orchestration.spark_server import DEFAULT_ARCHIVE


def _warm_up(session, scratch: Path) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from spark.transforms.event_time import utc_ntz

    doc = T.StructType([T.StructField(n, T.StringType()) for n in ("id", "ts", "value", "_corrupt_record")])
    rows = session.range(2000).select(
        F.col("id"),
        F.to_json(
            F.struct(
                (F.col("id") % 500).cast("string").alias("id"),
                F.lit("2026-11-20T10:00:00Z").alias("ts"),
                (F.col("id") / 7).cast("string").alias("value"),
            )
        ).alias("payload"),
    )
    parsed = (
        rows.withColumn("doc", F.from_json("payload", doc, {"columnNameOfCorruptRecord": "_corrupt_record"}))
        .withColumn("ts", utc_ntz(F.col("doc.ts")))
        .withColumn("value", F.expr("try_cast(doc.value AS DOUBLE)"))
        .withColumn("name", F.get_json_object("payload", "$.id"))
        .withColumn("reason", F.when(F.col("value") > 200, F.lit("implausible_value")))
        .persist()
    )
    parsed.groupBy("reason").count().collect()
    parsed.select("doc.id").distinct().count()
    first = Window.partitionBy("doc.id").orderBy("ts", "id")
    kept = parsed.where("reason is null").withColumn("_rank", F.row_number().over(first)).where("_rank = 1")
    kept.count()
    kept.drop("doc").write.mode("overwrite").parquet(str(scratch / "kept"))
    parsed.where("reason is not null").dropDuplicates(["payload"]).select("payload", "reason").write.mode(
        "overwrite"
    ).parquet(str(scratch / "rejected"))
    back = session.read.parquet(str(scratch / "kept"))
    back.select("ts", "value", F.explode_outer(F.array("name", "payload")).alias("x")).groupBy(F.to_date("ts")).agg(
        F.countDistinct("x"), F.avg("value")
    ).collect()
    parsed.unpersist()


def write_archive(target: Path) -> Path:
    """Start a Spark Connect server asked to dump its classes at exit, warm it up through a
    client as a step would, stop it (SIGTERM: the JVM exits cleanly and writes the archive)."""
    import socket

    from pyspark.sql import SparkSession

    from orchestration import spark_server

    target = target.resolve()  # the server's working directory is its own, not ours
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".spark-classes-") as scratch:
        dumped = Path(scratch) / "classes.jsa"
        options = f"-XX:ArchiveClassesAtExit={dumped} -Xlog:cds=error,cds+dynamic=error"  # not the skipped classes
        with socket.socket() as sock:  # a port of its own: a running server is left alone
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        settings = spark_server.ServerSettings(
            remote=f"sc://127.0.0.1:{port}",
            home=Path(scratch),
            class_archive=None,
            conf={"spark.driver.extraJavaOptions": options},
        )
        try:
            spark_server.ensure(settings, ceiling=600)
            session = SparkSession.builder.remote(settings.remote).getOrCreate()
            _warm_up(session, Path(scratch))
            session.stop()
        finally:
            pid = spark_server.stop(settings, grace=300)
        if not dumped.exists():
            raise RuntimeError(
                f"the server JVM (pid {pid}) exited without writing {dumped}\n{spark_server.log_tail(settings)}"
            )
        dumped.replace(target)
    return target


if __name__ == "__main__":
    print(write_archive(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ARCHIVE))
