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


@pytest.fixture(scope="session")
def postgres_db():
    """A throwaway database on the machine's real PostgreSQL (127.0.0.1:5432).

    A server that is not there fails the tests that use it: CI starts one (.ci/run).
    """
    import uuid

    import psycopg2

    params = {
        "host": os.getenv("WAREHOUSE_HOST", "127.0.0.1"),
        "port": int(os.getenv("WAREHOUSE_PORT", "5432")),
        "user": os.getenv("WAREHOUSE_USER", "postgres"),
    }
    name = f"airstream_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **params)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    yield {**params, "dbname": name}
    with admin.cursor() as cur:
        cur.execute(f"drop database if exists {name} with (force)")
    admin.close()
