"""API keys: the store, the command line, and the API refusing (401, 403) or serving (200).

The API runs over a small DuckDB warehouse built here (three marts, a few rows), so these tests
need no pipeline run; the page cache test uses a real Redis server.
"""

import logging
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import duckdb
import pytest
import redis
from fastapi.testclient import TestClient
from test_api_cache import cache_counts, redis_url  # noqa: F401 - a fixture, used by name

from orchestration.serving.api import ROUTES, create_app
from orchestration.serving.api_auth import NoApiKeys
from orchestration.serving.api_keys import KEY_PREFIX, SCOPES, KeyStore, KeyStoreError, hash_key
from orchestration.serving.settings import ServingSettings
from tests.serving.services import free_port, process, python_module

REPO = Path(__file__).resolve().parents[2]
MARTS = [
    "create schema marts",
    "create table marts.dim_locations as select * from (values"
    " (1, 'A', 'a', 'UTC', 'DE', 'Germany', 'p', false, true, 52.5::double, 13.4::double),"
    " (2, 'B', 'b', 'UTC', 'IN', 'India', 'p', false, true, 28.6::double, 77.2::double))"
    " t(location_id, location_name, locality, timezone, country_code, country_name, provider_name,"
    " is_mobile, is_monitor, latitude, longitude)",
    "create table marts.agg_air_quality_daily as select * from (values"
    " (date '2026-11-20', 1, 2, 'pm25', 'µg/m³', 4.5::double, 9.0::double, 15.0::double, 24, false),"
    " (date '2026-11-20', 2, 2, 'pm25', 'µg/m³', 20.0::double, 40.0::double, 80.0::double, 24, true))"
    " t(measured_on, location_id, parameter_id, parameter_name, units, min_value, mean_value, max_value,"
    " measurement_count, exceeds_who_pm25_guideline)",
    "create table marts.users_by_country_daily as select * from (values"
    " (date '2026-11-20', 'DE', 3, 1, 1, 1, 0, 1, 1, 1, 0))"
    " t(ingested_on, country, user_count, female_count, male_count, other_gender_count,"
    " age_under_18, age_18_29, age_30_44, age_45_64, age_65_plus)",
]
UNAUTHORIZED = {
    "missing": "missing API key: send the header 'Authorization: Bearer <key>'",
    "invalid": "invalid API key",
    "revoked": "API key revoked",
}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    with closing(duckdb.connect(str(path))) as con:
        for sql in MARTS:
            con.execute(sql)
    return path


@pytest.fixture
def keys(tmp_path):
    """A store with a key per dataset used here and one revoked key."""
    store = KeyStore(tmp_path / "keys" / "api_keys.sqlite")
    made = {
        "aq": store.create("aq", ("air-quality",)),
        "people": store.create("people", ("users",)),
        "both": store.create("both", ("air-quality", "users")),
        "gone": store.create("gone", ("air-quality", "users")),
    }
    store.revoke("gone")
    return store, made


def settings_for(warehouse, tmp_path, store=None, **kw) -> ServingSettings:
    return ServingSettings(
        duckdb_path=warehouse,
        snapshot_dir=tmp_path / "snapshots",
        api_keys_path=store.path if store else None,
        api_keys_check_seconds=0,
        **kw,
    )


def test_the_store_holds_only_hashes_of_keys(keys):
    store, made = keys
    raw = store.path.read_bytes()
    for key in made.values():
        assert key.startswith(KEY_PREFIX) and len(key) == len(KEY_PREFIX) + 43
        assert key.encode() not in raw and key[len(KEY_PREFIX) :].encode() not in raw
        assert hash_key(key).encode() in raw
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert [(k.name, sorted(k.scopes), k.revoked_at is None) for k in store.keys()] == [
        ("aq", ["air-quality"], True),
        ("both", ["air-quality", "users"], True),
        ("gone", ["air-quality", "users"], False),
        ("people", ["users"], True),
    ]


@pytest.mark.parametrize(
    "name, scopes, message",
    [
        ("aq", ("users",), "an active key named 'aq' exists: revoke it first"),
        ("Bad Name", ("users",), "bad key name 'Bad Name'"),
        ("", ("users",), "bad key name ''"),
        ("ok", ("users", "weather"), "unknown scope(s) weather: the scopes are air-quality, users, sales,"),
        ("ok", (), "no scopes given"),
    ],
)
def test_bad_key_input_is_refused_with_a_clear_message(keys, name, scopes, message):
    store, _ = keys
    with pytest.raises(KeyStoreError) as error:
        store.create(name, scopes)
    assert message in str(error.value)


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    env.pop("API_KEYS_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "orchestration.serving.keys", *args], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_the_cli_prints_the_key_once_and_list_never_shows_it(tmp_path):
    made = cli(tmp_path, "create", "dashboards", "--scopes", "users, air-quality")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and key.startswith(KEY_PREFIX)
    assert (made.stdout + made.stderr).count(key) == 1 and "shown only this once" in made.stderr
    store = KeyStore(tmp_path / "api_keys.sqlite")  # DATA_DIR/api_keys.sqlite, the default
    assert [k.key_sha256 for k in store.keys()] == [hash_key(key)]
    assert key.encode() not in store.path.read_bytes()

    listed = cli(tmp_path, "list")
    assert listed.returncode == 0 and key not in listed.stdout + listed.stderr
    created_at = store.keys()[0].created_at
    assert listed.stdout == f"dashboards\tair-quality,users\tcreated {created_at}\tactive\n"

    assert cli(tmp_path, "revoke", "dashboards").returncode == 0
    revoked_at = store.keys()[0].revoked_at
    assert (
        cli(tmp_path, "list").stdout == f"dashboards\tair-quality,users\tcreated {created_at}\trevoked {revoked_at}\n"
    )

    again = cli(tmp_path, "revoke", "dashboards")
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr == "error: no active key named 'dashboards' (see `python -m orchestration.serving.keys list`)\n"
    bad = cli(tmp_path, "create", "x", "--scopes", "sales,wether")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == f"error: unknown scope(s) wether: the scopes are {', '.join(SCOPES)}\n"


def test_make_api_key_and_api_key_revoke(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    env.pop("API_KEYS_PATH", None)

    def make(*args):
        return subprocess.run(["make", "-s", *args], cwd=REPO, env=env, capture_output=True, text=True)

    made = make("api-key", "NAME=etl", "SCOPES=sales,campaigns")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and key.startswith(KEY_PREFIX)
    assert make("api-keys").stdout.startswith("etl\tsales,campaigns\tcreated ")
    assert make("api-key-revoke", "NAME=etl").returncode == 0
    assert [k.revoked_at is not None for k in KeyStore(tmp_path / "api_keys.sqlite").keys()] == [True]
    bad = make("api-key", "NAME=etl", "SCOPES=sails")
    assert bad.returncode != 0 and "unknown scope(s) sails" in bad.stderr


def test_every_route_declares_a_known_scope_and_openapi_shows_the_bearer(warehouse, tmp_path, keys):
    assert {path: route.scope for path, route in ROUTES.items()} == {
        "/v1/air-quality/daily": "air-quality",
        "/v1/locations": "air-quality",
        "/v1/users/by-country/daily": "users",
        "/v1/sales/daily": "sales",
        "/v1/campaigns/daily": "campaigns",
        "/v1/web-traffic/daily": "web-traffic",
        "/v1/social-mentions/daily": "social",
        "/v1/catalog/files": "catalog",
    }
    with TestClient(create_app(settings_for(warehouse, tmp_path, keys[0]))) as client:
        spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    secured = {path for path, item in spec["paths"].items() if item["get"].get("security")}
    assert secured == set(ROUTES)


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "missing"),
        ({"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, "missing"),
        ({"Authorization": "Bearer"}, "missing"),
        (bearer(KEY_PREFIX + "x" * 43), "invalid"),
        (bearer("gone"), "invalid"),  # a key's name is not a key
        ("gone", "revoked"),
    ],
)
def test_401_without_a_valid_key(warehouse, tmp_path, keys, headers, reason):
    store, made = keys
    headers = bearer(made[headers]) if isinstance(headers, str) else headers
    with TestClient(create_app(settings_for(warehouse, tmp_path, store))) as client:
        for path in ROUTES:
            # Refused before anything else is looked at: a bad limit or filter is not reported.
            for params in ({}, {"limit": 0, "pollutant": "pm25"}):
                response = client.get(path, params=params, headers=headers)
                assert response.status_code == 401, (path, response.text)
                assert response.json() == {"detail": UNAUTHORIZED[reason]}
                assert response.headers["www-authenticate"] == "Bearer"


def test_403_outside_the_keys_scopes(warehouse, tmp_path, keys):
    store, made = keys
    with TestClient(create_app(settings_for(warehouse, tmp_path, store))) as client:
        response = client.get("/v1/users/by-country/daily", headers=bearer(made["aq"]))
        assert response.status_code == 403
        assert response.json() == {"detail": "API key 'aq' has no scope 'users' (its scopes: air-quality)"}
        for path in ("/v1/air-quality/daily", "/v1/locations"):
            response = client.get(path, headers=bearer(made["people"]))
            assert response.status_code == 403
            assert response.json() == {"detail": "API key 'people' has no scope 'air-quality' (its scopes: users)"}


def test_200_within_scope_is_the_open_apis_answer(warehouse, tmp_path, keys):
    store, made = keys
    requests = [
        ("/v1/air-quality/daily", {"limit": 1}, "aq"),
        ("/v1/air-quality/daily", {"country": "IN"}, "both"),
        ("/v1/locations", {}, "aq"),
        ("/v1/users/by-country/daily", {}, "people"),
        ("/v1/users/by-country/daily", {"country": "DE"}, "both"),
    ]
    with TestClient(create_app(settings_for(warehouse, tmp_path / "open"))) as open_client:
        expected = [open_client.get(path, params=params) for path, params, _ in requests]
    with TestClient(create_app(settings_for(warehouse, tmp_path, store))) as client:
        for (path, params, name), open_answer in zip(requests, expected, strict=True):
            response = client.get(path, params=params, headers=bearer(made[name]))
            assert (response.status_code, open_answer.status_code) == (200, 200)
            assert response.content == open_answer.content and response.json()["items"], path
        # Bad input from a valid key is still the endpoint's clear 4xx.
        response = client.get("/v1/locations", params={"contry": "DE"}, headers=bearer(made["aq"]))
        assert response.status_code == 400 and "unknown query parameter(s) ['contry']" in response.text


def test_a_key_revoked_while_the_api_runs_is_refused_at_once(warehouse, tmp_path, keys):
    store, made = keys
    with TestClient(create_app(settings_for(warehouse, tmp_path, store))) as client:
        assert client.get("/v1/locations", headers=bearer(made["aq"])).status_code == 200
        store.revoke("aq")
        response = client.get("/v1/locations", headers=bearer(made["aq"]))
        assert (response.status_code, response.json()) == (401, {"detail": "API key revoked"})
        fresh = store.create("aq", ("air-quality",))  # the name is free again: a new key for it
        assert client.get("/v1/locations", headers=bearer(fresh)).status_code == 200
        assert client.get("/v1/locations", headers=bearer(made["aq"])).status_code == 401


def test_health_ready_metrics_and_docs_stay_open(warehouse, tmp_path, keys):
    with TestClient(create_app(settings_for(warehouse, tmp_path, keys[0]))) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json() == {"status": "ready", "marts": 3}
        assert client.get("/metrics").status_code == 200
        assert client.get("/openapi.json").status_code == 200


def key_counts(text: str) -> dict[str, float]:
    prefix = "airstream_api_key_requests_total{"
    return {
        line[len(prefix) - 1 :].rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def test_metrics_count_requests_per_key_name_never_the_key(warehouse, tmp_path, keys):
    store, made = keys
    with TestClient(create_app(settings_for(warehouse, tmp_path, store))) as client:
        for _ in range(3):
            client.get("/v1/locations", headers=bearer(made["aq"]))
        client.get("/v1/air-quality/daily", params={"limit": 0}, headers=bearer(made["aq"]))
        client.get("/v1/users/by-country/daily", headers=bearer(made["aq"]))
        for _ in range(2):
            client.get("/v1/users/by-country/daily", headers=bearer(made["people"]))
        client.get("/v1/locations", headers=bearer(made["gone"]))  # 401s: no key, no key series
        client.get("/v1/locations", headers=bearer("wrong"))
        client.get("/v1/locations")
        text = client.get("/metrics").text
    assert key_counts(text) == {
        '{key="aq",route="/v1/locations",status="200"}': 3.0,
        '{key="aq",route="/v1/air-quality/daily",status="422"}': 1.0,
        '{key="aq",route="/v1/users/by-country/daily",status="403"}': 1.0,
        '{key="people",route="/v1/users/by-country/daily",status="200"}': 2.0,
    }
    assert 'airstream_api_requests_total{method="GET",route="/v1/locations",status="401"} 3.0' in text
    for key in made.values():
        assert key not in text and key[len(KEY_PREFIX) :] not in text and hash_key(key) not in text


def test_a_cached_page_is_never_served_without_the_scope(warehouse, tmp_path, keys, redis_url):  # noqa: F811
    redis.Redis.from_url(redis_url).flushdb()
    store, made = keys
    settings = settings_for(warehouse, tmp_path, store, redis_url=redis_url, cache_ttl_seconds=60)
    with TestClient(create_app(settings)) as client:
        page = client.get("/v1/users/by-country/daily", headers=bearer(made["people"]))
        assert page.status_code == 200
        assert client.get("/v1/users/by-country/daily", headers=bearer(made["people"])).content == page.content
        assert cache_counts(client) == {"miss": 1.0, "hit": 1.0}
        assert client.get("/v1/users/by-country/daily", headers=bearer(made["aq"])).status_code == 403
        assert client.get("/v1/users/by-country/daily", headers=bearer(made["gone"])).status_code == 401
        assert client.get("/v1/users/by-country/daily").status_code == 401
        assert cache_counts(client) == {"miss": 1.0, "hit": 1.0}  # the cache was never asked


def test_prod_refuses_to_start_without_an_active_key(tmp_path, keys):
    for store in (None, KeyStore(tmp_path / "empty.sqlite")):
        with pytest.raises(NoApiKeys, match="the prod profile does not serve without API keys"):
            create_app(ServingSettings(profile="prod", api_keys_path=store.path if store else None))
    store, _ = keys
    for name in ("aq", "people", "both"):
        store.revoke(name)
    with pytest.raises(NoApiKeys, match=f"{store.path} holds no active key"):
        create_app(ServingSettings(profile="prod", api_keys_path=store.path))

    # The server itself, as `make serve` and compose start it: a clear error and a non-zero exit.
    env = {**os.environ, "DAGSTER_DEPLOYMENT": "prod", "DATA_DIR": str(tmp_path / "prod"), "API_PORT": "1"}
    env.pop("API_KEYS_PATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.serving.api"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: the prod profile does not serve without API keys and {tmp_path / 'prod' / 'api_keys.sqlite'}"
        " holds no active key"
    )


def test_local_without_keys_serves_open_and_says_so(warehouse, tmp_path, caplog):
    store = KeyStore(tmp_path / "api_keys.sqlite")  # not created yet: no key
    with caplog.at_level(logging.WARNING, logger="orchestration.serving.api_auth"):
        app = create_app(settings_for(warehouse, tmp_path, store))
    assert [r.getMessage() for r in caplog.records] == [
        f"local profile and no API key in {store.path}: serving WITHOUT keys (`make api-key` turns them on)"
    ]
    with TestClient(app) as client:
        assert client.get("/v1/locations").status_code == 200
        assert client.get("/v1/users/by-country/daily", headers=bearer("anything")).status_code == 200
        key = store.create("first", ("users",))  # the first key turns keys on, without a restart
        assert client.get("/v1/locations").status_code == 401
        assert client.get("/v1/users/by-country/daily", headers=bearer(key)).status_code == 200
        store.revoke("first")  # revoking the last key does not open the API again
        assert client.get("/v1/users/by-country/daily").status_code == 401


def status_of(url: str, key: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=bearer(key)), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    "server",
    [
        # As `make serve` starts it (uvicorn at log level warning: no access log).
        ["orchestration.serving.api"],
        # uvicorn's own command line at its most talkative: the access log on and the trace
        # level, which logs every ASGI message of a request (uvicorn puts "<...>" for headers).
        ["uvicorn", "orchestration.serving.api:create_app", "--factory", "--log-level", "trace", "--access-log"],
    ],
    ids=["make-serve", "uvicorn-trace-access-log"],
)
def test_no_key_reaches_the_servers_output_or_the_key_store(warehouse, tmp_path, keys, server):
    store, made = keys
    wrong = KEY_PREFIX + secrets.token_urlsafe(32)  # well-formed, never stored
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_DEPLOYMENT": "local",
        "DATA_DIR": str(warehouse.parent),
        "API_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        "API_KEYS_PATH": str(store.path),
        "API_PORT": str(port),
    }
    env.pop("REDIS_URL", None)
    argv = python_module(server[0]) + server[1:] + (["--port", str(port)] if server[0] == "uvicorn" else [])
    log = tmp_path / "server.log"  # stdout and stderr, everything the process wrote
    base = f"http://127.0.0.1:{port}"
    with process(argv, log, ready_url=f"{base}/ready", env=env):
        statuses = {
            name: status_of(f"{base}/v1/locations", key) for name, key in [("aq", made["aq"]), ("gone", made["gone"])]
        }
        statuses["wrong"] = status_of(f"{base}/v1/locations", wrong)
    assert statuses == {"aq": 200, "gone": 401, "wrong": 401}

    written = log.read_bytes()
    if server[0] == "uvicorn":  # the access log lines are there to search
        for status in (200, 401):
            assert f'"GET /v1/locations HTTP/1.1" {status}'.encode() in written, written.decode()[-3000:]
    stored = [p for p in store.path.parent.iterdir() if p.is_file()]  # the store and any journal
    assert store.path in stored
    for key in [*made.values(), wrong]:
        for secret in (key, key[len(KEY_PREFIX) :]):
            assert secret.encode() not in written, "a key in the server's output"
            for path in stored:
                assert secret.encode() not in path.read_bytes(), f"a key in {path}"


def test_keys_list_by_name_whatever_second_they_were_made_in(tmp_path, monkeypatch):
    """`created_at` has whole seconds: keys made across a second's tick list in name order
    (then by age for one name), not in the order the clock happened to give them."""
    from orchestration.serving import api_keys

    stamps = iter(["2026-12-07T10:00:01+00:00", "2026-12-07T10:00:02+00:00", "2026-12-07T10:00:03+00:00"])
    monkeypatch.setattr(api_keys, "_now", lambda: next(stamps))
    store = KeyStore(tmp_path / "api_keys.sqlite")
    store.create("zeta", ("users",))
    store.create("alpha", ("users",))
    store.revoke("alpha")
    assert [(k.name, k.revoked_at is None) for k in store.keys()] == [("alpha", False), ("zeta", True)]
