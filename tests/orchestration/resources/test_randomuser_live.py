"""The live client and the resource against a real local HTTP server: paging, seeds, retries."""

import json
import logging
import socket
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest
import requests

from orchestration.resources.randomuser import (
    LiveRandomUserClient,
    RandomUserError,
    RandomUserResource,
    UserCall,
)
from tests.waiting import wait_until

DAY = date(2026, 11, 20)
SEED = "airstream-2026-11-20"
PATH = "/api/1.4/"
UH_OH = {"error": "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. Thank you."}


def users(query):
    """What the API does: page-specific users, and results > 5000 silently turned into 1."""
    count = int(query.get("results", 1))
    count = 1 if count > 5000 else count
    page = int(query.get("page", 1))
    nats = query.get("nat", "US").split(",")
    return [
        {"login": {"uuid": f"00000000-0000-4000-8000-{page:04d}{i:08d}"}, "nat": nats[i % len(nats)]}
        for i in range(count)
    ]


def ok(query, call=0):
    page = int(query.get("page", 1))
    info = {"seed": query.get("seed"), "results": int(query.get("results", 1)), "page": page, "version": "1.4"}
    return 200, {}, {"results": users(query), "info": info}


class FakeRandomUser:
    """`route` maps (query, call number) -> (status, headers, body); the default is a good page."""

    def __init__(self):
        self.route = ok
        self.requests = []  # (path, query, monotonic time)


@pytest.fixture
def api():
    fake = FakeRandomUser()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            calls = len(fake.requests)
            fake.requests.append((url.path, query, time.monotonic()))
            status, headers, body = fake.route(query, calls) if url.path == PATH else (404, {}, b"Not Found")
            if callable(body):  # a stalled server
                body = body()
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_port}{PATH}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def session():
    with requests.Session() as session:
        yield session


def make_client(session, base_url, **overrides):
    settings = dict(base_url=base_url, request_timeout_seconds=2.0, max_retries=3, backoff_seconds=0.01)
    return LiveRandomUserClient(session, **{**settings, **overrides})


def make_resource(api, **overrides):
    return RandomUserResource(
        **{
            "mode": "live",
            "base_url": api.base_url,
            "backoff_seconds": 0.01,
            "request_timeout_seconds": 2.0,
            "max_retries": 3,
            **overrides,
        }
    )


def test_page_of_a_seed(api, session):
    got = make_client(session, api.base_url).fetch_page(SEED, UserCall(2, 3))
    assert got == users({"results": "3", "page": "2"})
    assert [(path, q) for path, q, _ in api.requests] == [(PATH, {"results": "3", "seed": SEED, "page": "2"})]


def test_12000_users_take_three_calls_of_at_most_5000(api):
    got = list(make_resource(api, users_per_day=12_000).fetch_users(DAY))

    assert len(got) == 12_000
    assert len({user["login"]["uuid"] for user in got}) == 12_000
    queries = [q for _, q, _ in api.requests]
    assert queries == [{"results": str(n), "seed": SEED, "page": str(p)} for p, n in [(1, 5000), (2, 5000), (3, 2000)]]


def test_the_seed_follows_the_day(api):
    resource = make_resource(api, users_per_day=2)
    list(resource.fetch_users(date(2026, 11, 20)))
    list(resource.fetch_users(date(2026, 11, 21)))
    assert [q["seed"] for _, q, _ in api.requests] == ["airstream-2026-11-20", "airstream-2026-11-21"]


def test_nationality_filter_is_passed(api):
    got = list(make_resource(api, users_per_day=4, nationalities=["no", " TR "]).fetch_users(DAY))
    assert api.requests[0][1]["nat"] == "NO,TR"
    assert {user["nat"] for user in got} == {"NO", "TR"}


@pytest.mark.parametrize(("retry_after", "at_least"), [("1", 0.95), (None, 0.28), ("soon", 0.28)])
def test_rate_limited_waits_then_succeeds(api, session, retry_after, at_least):
    headers = {"Retry-After": retry_after} if retry_after else {}
    api.route = lambda q, call: (429, headers, b"Too Many Requests") if call == 0 else ok(q)
    # Without a usable Retry-After the wait is the rate-limit base, much longer than the error backoff.
    client = make_client(session, api.base_url, backoff_seconds=0.01, rate_limit_wait_seconds=0.3)

    assert len(client.fetch_page(SEED, UserCall(1, 5))) == 5
    waited = api.requests[1][2] - api.requests[0][2]
    assert waited >= at_least


@pytest.mark.parametrize(
    "failure",
    [
        (500, {}, UH_OH),
        (503, {}, b"<html>upstream down</html>"),
        (200, {}, UH_OH),
        (200, {}, {"results": [], "info": {"page": 1}}),
        (200, {}, b'{"results": [ {"gend'),
    ],
    ids=["500-error-body", "503-html", "200-error-body", "empty-results", "truncated"],
)
def test_transient_failures_are_retried(api, session, failure):
    api.route = lambda q, call: failure if call < 2 else ok(q)
    assert len(make_client(session, api.base_url).fetch_page(SEED, UserCall(1, 7))) == 7
    assert len(api.requests) == 3


def test_error_body_forever_gives_a_clear_error_after_max_retries(api, session):
    api.route = lambda q, call: (200, {}, UH_OH)
    with pytest.raises(RandomUserError, match=r"page 1, results 5\) failed after 4 attempts: API error: Uh oh"):
        make_client(session, api.base_url).fetch_page(SEED, UserCall(1, 5))
    assert len(api.requests) == 4  # max_retries=3 plus the first try


def test_empty_results_forever_gives_a_clear_error(api):
    api.route = lambda q, call: (200, {}, {"results": [], "info": {"seed": q["seed"], "page": 1}})
    with pytest.raises(RandomUserError, match="failed after 4 attempts: empty 'results' list"):
        list(make_resource(api).fetch_users(DAY))


def test_a_short_page_is_not_taken_for_a_full_one(api, session):
    api.route = lambda q, call: ok({**q, "results": "1"})
    with pytest.raises(RandomUserError, match="asked for 5 users, got 1"):
        make_client(session, api.base_url, max_retries=1).fetch_page(SEED, UserCall(1, 5))


def test_timeouts_are_retried(api, session):
    def stall():  # answers only once the client has given up on it and asked again
        wait_until("the client's retry", lambda: len(api.requests) >= 2)
        return ok({"results": "1"})[2]

    api.route = lambda q, call: (200, {}, stall) if call == 0 else ok(q)
    client = make_client(session, api.base_url, request_timeout_seconds=3.0)
    assert len(client.fetch_page(SEED, UserCall(1, 2))) == 2
    assert len(api.requests) == 2


def test_connection_refused_gives_up_after_max_retries(session):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(session, f"http://127.0.0.1:{port}/api/1.4/", max_retries=2)
    with pytest.raises(RandomUserError, match="failed after 3 attempts: ConnectionError"):
        client.fetch_page(SEED, UserCall(1, 1))


def test_client_errors_are_not_retried(session, api):
    client = make_client(session, api.base_url.replace("/api/1.4/", "/api/9.9/"))
    with pytest.raises(RandomUserError, match="HTTP 404"):
        client.fetch_page(SEED, UserCall(1, 1))
    assert len(api.requests) == 1


def test_another_api_version_is_refused(api, session):
    api.route = lambda q, call: (200, {}, {**ok(q)[2], "info": {"version": "1.3", "page": 1}})
    with pytest.raises(RandomUserError, match="API version 1.3.*expected 1.4"):
        make_client(session, api.base_url).fetch_page(SEED, UserCall(1, 2))
    assert len(api.requests) == 1


def test_live_mode_says_so_loudly_in_a_run(api, caplog):
    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"))
    def randomuser_users(context: dg.AssetExecutionContext, randomuser: RandomUserResource) -> int:
        return sum(1 for _ in randomuser.fetch_users(context.partition_time_window.start.date()))

    with caplog.at_level(logging.WARNING):
        result = dg.materialize(
            [randomuser_users],
            resources={"randomuser": make_resource(api, users_per_day=3)},
            partition_key="2026-11-20",
        )

    assert result.output_for_node("randomuser_users") == 3
    assert "LIVE mode" in caplog.text
    assert api.requests[0][1]["seed"] == SEED


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"mode": "prod"}, "must be"),
        ({"nationalities": ["XX"]}, "unknown nationalities"),
        ({"users_per_day": -1}, "users_per_day"),
        ({"sample_bad_row_ratio": 2.0}, "within 0..1"),
    ],
)
def test_resource_refuses_bad_config(api, settings, error):
    with pytest.raises(RandomUserError, match=error):
        list(make_resource(api, **settings).fetch_users(DAY))
    assert api.requests == []
