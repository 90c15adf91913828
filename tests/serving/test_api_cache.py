"""The page cache against a real Redis server (Debian's redis-server on a port of its own)."""

import shutil
import socket
import subprocess
from contextlib import closing

import duckdb
import pytest
import redis
from fastapi.testclient import TestClient

from orchestration.serving.api import create_app
from orchestration.serving.settings import ServingSettings
from tests.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url():
    port = _free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        assert server.poll() is None, "redis-server exited"
        try:
            return redis.Redis.from_url(url).ping()
        except redis.ConnectionError:
            return False

    wait_until("redis-server answering", answers, interval=0.05)
    yield url
    server.terminate()
    server.wait(10)


def cache_counts(client) -> dict[str, float]:
    out = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("airstream_api_cache_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('result="')[1].split('"')[0]] = float(value)
    return out


@pytest.fixture
def warehouse(pipeline_day, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_day["warehouse"], path)
    return path


def test_a_repeated_read_is_a_hit_and_a_rematerialized_day_is_read_again(warehouse, redis_url, tmp_path):
    redis.Redis.from_url(redis_url).flushdb()
    settings = ServingSettings(
        duckdb_path=warehouse,
        snapshot_dir=tmp_path / "s",
        redis_url=redis_url,
        cache_ttl_seconds=60,
        version_check_seconds=0,
    )
    with TestClient(create_app(settings)) as client:
        params = {"limit": 5}
        first = client.get("/v1/air-quality/daily", params=params).json()
        assert cache_counts(client) == {"miss": 1.0}
        assert client.get("/v1/air-quality/daily", params=params).json() == first
        assert cache_counts(client) == {"miss": 1.0, "hit": 1.0}
        keys = redis.Redis.from_url(redis_url).keys("airstream:api:*")
        assert len(keys) == 1 and 0 < redis.Redis.from_url(redis_url).ttl(keys[0]) <= 60

        # The day is rematerialized: the pipeline replaces its rows with new figures.
        row = first["items"][0]
        with closing(duckdb.connect(str(warehouse))) as writer:
            writer.execute(
                "update marts.agg_air_quality_daily set mean_value = mean_value + 1"
                " where measured_on = ? and location_id = ? and parameter_id = ?",
                [row["measured_on"], row["location_id"], row["parameter_id"]],
            )
        after = client.get("/v1/air-quality/daily", params=params).json()
        assert after["items"][0]["mean_value"] == row["mean_value"] + 1
        assert after["items"][1:] == first["items"][1:]
        assert cache_counts(client) == {"miss": 2.0, "hit": 1.0}
        assert client.get("/v1/air-quality/daily", params=params).json() == after
        assert cache_counts(client) == {"miss": 2.0, "hit": 2.0}


def test_without_redis_url_the_cache_is_off(warehouse, tmp_path):
    settings = ServingSettings(duckdb_path=warehouse, snapshot_dir=tmp_path / "s")
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/locations").status_code == 200
        assert cache_counts(client) == {}


def test_a_redis_that_goes_away_is_counted_and_the_warehouse_answers(warehouse, tmp_path):
    settings = ServingSettings(
        duckdb_path=warehouse, snapshot_dir=tmp_path / "s", redis_url=f"redis://127.0.0.1:{_free_port()}/0"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/locations", params={"limit": 2})
        assert response.status_code == 200 and len(response.json()["items"]) == 2
        assert cache_counts(client) == {"error": 2.0}  # the get and the put
