"""The Spark class archive: `make setup` writes it, and every Spark JVM the resource starts maps
Spark's classes from it instead of loading them from the jars."""

import subprocess
import sys
import textwrap

from orchestration.resources.spark import SparkResource
from orchestration.resources.spark_classes import DEFAULT_ARCHIVE
from tests.waiting import WAIT_SECONDS


def test_the_archive_joins_the_driver_options_only_when_it_exists(tmp_path):
    archive = tmp_path / "classes.jsa"
    resource = SparkResource(class_archive=str(archive), conf={"spark.driver.extraJavaOptions": "-Dx=1"})
    assert resource.java_conf() == {"spark.driver.extraJavaOptions": "-Dx=1"}
    archive.write_bytes(b"")
    assert resource.java_conf() == {"spark.driver.extraJavaOptions": f"-Dx=1 -XX:SharedArchiveFile={archive}"}
    assert SparkResource(class_archive=None).java_conf() == {}


def test_a_spark_jvm_maps_spark_classes_from_the_archive_make_setup_wrote(tmp_path):
    assert DEFAULT_ARCHIVE.exists(), f"no {DEFAULT_ARCHIVE}: `make setup` writes it"
    loaded = tmp_path / "class-load.log"
    script = textwrap.dedent(
        f"""
        from orchestration.resources.spark import SparkResource
        options = "-Xlog:class+load=info:file={loaded}"
        spark = SparkResource(master="local[1]", conf={{"spark.driver.extraJavaOptions": options}}).get_session()
        assert spark.range(100).selectExpr("sum(id)").first()[0] == 4950
        spark.stop()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=WAIT_SECONDS)
    lines = loaded.read_text().splitlines()
    # Lambdas are spun up at run time and never archived; every other class counts.
    spark_classes = [line for line in lines if " org.apache.spark." in line and "$$Lambda" not in line]
    from_archive = [line for line in spark_classes if "source: shared objects file (top)" in line]
    # The dynamic archive is the "top" layer over the JDK's own; nearly every Spark class comes from it.
    assert len(from_archive) > 1000
    assert len(from_archive) > 0.95 * len(spark_classes), (len(from_archive), len(spark_classes))
