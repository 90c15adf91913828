"""The JVM's class-data-sharing archive of the classes a Spark step loads (`make setup` writes it).

A new JVM spends most of its first seconds loading, verifying and interpreting Spark's classes:
on this 2-core machine the first clean step of a run took 8-11 s of which a warm JVM needs 2.
With the archive the JVM maps those classes ready-parsed instead (JDK 13+ dynamic CDS). It is
valid for the one Java build and the one set of Spark jars it was dumped with, so it lives in
the virtual environment beside the jars; a JVM that finds it stale ignores it and loads the
classes itself, which is only slower.

Run as `python -m orchestration.resources.spark_classes PATH`: starts Spark with
`-XX:ArchiveClassesAtExit`, runs the kinds of work the clean steps do (JSON parsing, windows,
dedupes, aggregates, Parquet written and read back), waits for the JVM to exit (the archive is
written then) and moves the archive into place atomically.
"""

import sys
import tempfile
from pathlib import Path

DEFAULT_ARCHIVE = Path(sys.prefix) / "spark-classes.jsa"


def _warm_up(session, scratch: Path) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

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
        .withColumn("ts", F.try_to_timestamp(F.col("doc.ts")).cast("timestamp_ntz"))
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
    from orchestration.resources.spark import SparkResource

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".spark-classes-") as scratch:
        dumped = Path(scratch) / "classes.jsa"
        options = f"-XX:ArchiveClassesAtExit={dumped} -Xlog:cds=error,cds+dynamic=error"  # not the skipped classes
        resource = SparkResource(prestart=False, class_archive=None, conf={"spark.driver.extraJavaOptions": options})
        session = resource.get_session()
        _warm_up(session, Path(scratch))
        gateway = session.sparkContext._gateway
        jvm = gateway.proc  # pyspark keeps the JVM's Popen here
        session.stop()
        gateway.shutdown()
        jvm.stdin.close()  # the gateway JVM exits at end of input; the archive is written at exit
        jvm.wait(timeout=300)
        if not dumped.exists():
            raise RuntimeError(f"the JVM exited ({jvm.returncode}) without writing {dumped}")
        dumped.replace(target)
    return target


if __name__ == "__main__":
    print(write_archive(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ARCHIVE))
