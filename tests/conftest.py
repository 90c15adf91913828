"""Fixtures shared by the whole suite."""

import os
import sys

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    """One SparkSession for the whole run (a JVM start costs 8-12 s).

    Built through the platform's own resource, so asset tests that call
    `SparkResource.get_session()` later get this same session back.
    """
    from orchestration.resources.spark import SparkResource

    session = SparkResource(master="local[1]", shuffle_partitions=1, driver_memory="1g").get_session()
    yield session
    session.stop()
