"""The Spark class archive: `make setup` writes it, and the Spark Connect server's JVM maps
Spark's classes from it instead of loading them from the jars."""

from pathlib import Path

from orchestration.spark_server import DEFAULT_ARCHIVE, ServerSettings

# The Connect server's gRPC service: loaded as the server starts serving, before any query.
SERVICE = "] org.apache.spark.sql.connect.service.SparkConnectService source:"


def test_the_archive_joins_the_driver_options_only_when_it_exists(tmp_path):
    archive = tmp_path / "classes.jsa"
    settings = ServerSettings(
        remote="sc://127.0.0.1:1", class_archive=archive, conf={"spark.driver.extraJavaOptions": "-Dx=1"}
    )
    assert settings.java_conf()["spark.driver.extraJavaOptions"] == "-Dx=1"
    archive.write_bytes(b"")
    assert settings.java_conf()["spark.driver.extraJavaOptions"] == f"-Dx=1 -XX:SharedArchiveFile={archive}"
    assert "spark.driver.extraJavaOptions" not in ServerSettings(remote="sc://h:1", class_archive=None).java_conf()


def test_the_server_jvm_maps_spark_classes_from_the_archive_make_setup_wrote(spark, spark_connect_server):
    """The suite's own server, started as `make run` and `make dev` start one, with the JVM's
    class loading logged (tests/conftest.py). The archive is for the start: the classes loaded
    until the server's gRPC service is up. What a long-lived server loads later depends on the
    queries it has run (codegen classes are made at run time and never archived)."""
    assert DEFAULT_ARCHIVE.exists(), f"no {DEFAULT_ARCHIVE}: `make setup` writes it"
    assert spark_connect_server.class_archive == DEFAULT_ARCHIVE
    assert spark.range(100).selectExpr("sum(id)").first()[0] == 4950
    logged = spark_connect_server.conf["spark.driver.extraJavaOptions"].split("file=", 1)[1]
    lines = Path(logged).read_text().splitlines()
    serving = next((i for i, line in enumerate(lines) if SERVICE in line), None)
    assert serving is not None, f"the server's class-load log never shows its gRPC service: {logged}"
    # Lambdas are spun up at run time and never archived; every other class counts.
    spark_classes = [line for line in lines[:serving] if " org.apache.spark." in line and "$$Lambda" not in line]
    from_archive = [line for line in spark_classes if "source: shared objects file (top)" in line]
    # The dynamic archive is the "top" layer over the JDK's own; nearly every Spark class comes from it.
    assert len(from_archive) > 1000
    assert len(from_archive) > 0.95 * len(spark_classes), (len(from_archive), len(spark_classes))
