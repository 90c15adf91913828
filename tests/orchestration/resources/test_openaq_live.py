"""The live client against a real local HTTP server: paging, headers, retries and errors."""

import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest
import requests

from orchestration.resources.openaq import (
    LiveOpenAQClient,
    OpenAQAuthError,
    OpenAQError,
    OpenAQGoneError,
    OpenAQResource,
    SensorRef,
)
from tests.waiting import wait_until

KEY = "s3cret-test-key"
SENSOR = SensorRef(sensor_id=3917, location_id=2178, parameter_id=2)
START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


class FakeOpenAQ:
    """Routes map a path to a function (query, call number) -> (status, headers, body)."""

    def __init__(self):
        self.routes = {}
        self.requests = []  # (path, query, headers, monotonic time)

    def reply(self, path, query):
        calls = sum(1 for seen, *_ in self.requests if seen == path)
        route = self.routes.get(path)
        return route(query, calls) if route else (404, {}, {"detail": "Not Found"})


@pytest.fixture
def api():
    fake = FakeOpenAQ()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, headers, body = fake.reply(url.path, query)
            fake.requests.append((url.path, query, dict(self.headers), time.monotonic()))
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
    fake.base_url = f"http://127.0.0.1:{server.server_port}/v3"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def session():
    with requests.Session() as session:
        yield session


@pytest.fixture
def client(api, session):
    return make_client(session, api.base_url)


def make_client(session, base_url, **overrides):
    settings = dict(
        base_url=base_url,
        api_key=KEY,
        page_limit=3,
        request_timeout_seconds=2.0,
        max_retries=3,
        backoff_seconds=0.01,
        min_request_interval_seconds=0.0,
    )
    return LiveOpenAQClient(session, **{**settings, **overrides})


def rows(count, first_hour=0):
    return [
        {
            "value": float(h),
            "parameter": {"id": 2, "name": "pm25", "units": "µg/m³", "displayName": None},
            "period": {"datetimeTo": {"utc": f"2026-11-20T{h + 1:02d}:00:00Z"}},
            "coordinates": None,
            "summary": None,
        }
        for h in range(first_hour, first_hour + count)
    ]


def paged(sizes, found=">3"):
    return lambda query, call: (200, {}, {"meta": {"found": found}, "results": rows(sizes[int(query["page"]) - 1])})


def test_measurements_page_until_short_page(api, client):
    api.routes["/v3/sensors/3917/measurements"] = paged([3, 3, 1])

    pages = list(client.iter_measurement_pages(SENSOR, START, END))

    assert [(p.page, len(p.results), p.rejected_reason) for p in pages] == [(1, 3, None), (2, 3, None), (3, 1, None)]
    assert all(p.sensor == SENSOR and p.found == 3 for p in pages)
    queries = [query for _, query, _, _ in api.requests]
    assert queries == [
        {"datetime_from": "2026-11-20T00:00:00Z", "datetime_to": "2026-11-21T00:00:00Z", "limit": "3", "page": str(n)}
        for n in (1, 2, 3)
    ]
    assert all(headers["X-API-Key"] == KEY for _, _, headers, _ in api.requests)


def test_exactly_full_last_page_ends_on_empty_page(api, session):
    api.routes["/v3/sensors/3917/hours"] = paged([3, 0])
    client = make_client(session, api.base_url, measurements_path="hours")
    assert [len(p.results) for p in client.iter_measurement_pages(SENSOR, START, END)] == [3, 0]


def test_naive_window_is_refused(client):
    with pytest.raises(ValueError, match="timezone-aware"):
        next(client.iter_measurement_pages(SENSOR, datetime(2026, 11, 20), END))


def test_locations_union_of_ids_and_country_listings_sorted_and_deduplicated(api, session):
    def location(i):
        return {"id": i, "name": f"site {i}", "locality": None, "sensors": [], "coordinates": None}

    listings = {"US": [[3, 1, 2], [5]], "MX": [[]]}
    api.routes["/v3/locations"] = lambda q, _: (
        200,
        {},
        {"meta": {"found": ">3"}, "results": [location(i) for i in listings[q["iso"]][int(q["page"]) - 1]]},
    )
    api.routes["/v3/locations/5"] = lambda q, _: (200, {}, {"meta": {"found": 1}, "results": [location(5)]})
    client = make_client(session, api.base_url, countries=["US", "MX"], bbox="-10,-5,10,5", location_ids=[5])

    assert [loc["id"] for loc in client.list_locations()] == [1, 2, 3, 5]
    listing_queries = [q for path, q, _, _ in api.requests if path == "/v3/locations"]
    assert listing_queries == [
        {"iso": "US", "bbox": "-10,-5,10,5", "limit": "3", "page": "1"},
        {"iso": "US", "bbox": "-10,-5,10,5", "limit": "3", "page": "2"},
        {"iso": "MX", "bbox": "-10,-5,10,5", "limit": "3", "page": "1"},
    ]


def test_rate_limited_waits_for_reset_then_succeeds(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (
        (429, {"x-ratelimit-reset": "1"}, {"detail": "Too Many Requests"}) if call == 0 else paged([2])(q, call)
    )
    pages = list(client.iter_measurement_pages(SENSOR, START, END))

    assert [len(p.results) for p in pages] == [2]
    first, second = api.requests[0][3], api.requests[1][3]
    assert second - first >= 0.95


def test_server_errors_are_retried_with_backoff(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (
        (503, {}, b"upstream down") if call < 2 else paged([1])(q, call)
    )
    assert [len(p.results) for p in client.iter_measurement_pages(SENSOR, START, END)] == [1]
    assert len(api.requests) == 3


def test_server_errors_forever_give_up_after_max_retries(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (500, {}, b"boom")
    with pytest.raises(OpenAQError, match="failed after 4 attempts: HTTP 500"):
        list(client.iter_measurement_pages(SENSOR, START, END))
    assert len(api.requests) == 4  # max_retries=3 plus the first try


def test_timeouts_are_retried(api, session):
    def stall():  # answers only once the client has given up on it and asked again
        wait_until("the client's retry", lambda: len(api.requests) >= 2)
        return {"results": []}

    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (200, {}, stall) if call == 0 else paged([1])(q, call)
    client = make_client(session, api.base_url, request_timeout_seconds=3.0)
    assert [len(p.results) for p in client.iter_measurement_pages(SENSOR, START, END)] == [1]
    assert len(api.requests) == 2  # the stalled one, then the retry


def test_connection_refused_gives_up_after_max_retries(session):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(session, f"http://127.0.0.1:{port}/v3", max_retries=2)
    with pytest.raises(OpenAQError, match="failed after 3 attempts: ConnectionError"):
        list(client.iter_measurement_pages(SENSOR, START, END))


def test_unauthorized_names_the_env_var_and_hides_the_key(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (401, {}, {"detail": f"bad key {KEY}"})
    with pytest.raises(OpenAQAuthError, match="OPENAQ_API_KEY") as error:
        list(client.iter_measurement_pages(SENSOR, START, END))
    assert KEY not in str(error.value)
    assert len(api.requests) == 1  # never retried


def test_gone_says_use_v3(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (410, {}, {"detail": "Gone"})
    with pytest.raises(OpenAQGoneError, match="retired.*v1 and v2.*v3"):
        list(client.iter_measurement_pages(SENSOR, START, END))


def test_other_client_errors_name_status_and_url_but_not_the_key(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (422, {}, {"detail": f"echo {KEY}"})
    with pytest.raises(OpenAQError, match=r"HTTP 422 for http://127\.0\.0\.1:\d+/v3/sensors/3917/") as error:
        list(client.iter_measurement_pages(SENSOR, START, END))
    assert KEY not in str(error.value)


def test_malformed_page_is_yielded_rejected_and_ends_the_sensor(api, client):
    api.routes["/v3/sensors/3917/measurements"] = lambda q, call: (
        paged([3])(q, call) if q["page"] == "1" else (200, {}, b'{"results": [ truncated')
    )
    pages = list(client.iter_measurement_pages(SENSOR, START, END))

    assert [(p.page, len(p.results)) for p in pages] == [(1, 3), (2, 0)]
    assert "not JSON" in pages[1].rejected_reason
    assert pages[1].raw_body == '{"results": [ truncated'


def test_requests_are_paced(api, session):
    api.routes["/v3/sensors/3917/measurements"] = paged([3, 3, 0])
    client = make_client(session, api.base_url, min_request_interval_seconds=0.2)
    list(client.iter_measurement_pages(SENSOR, START, END))
    times = [t for *_, t in api.requests]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.18


def test_resource_live_mode_end_to_end(api):
    api.routes["/v3/locations/2178"] = lambda q, _: (
        200,
        {},
        {"results": [{"id": 2178, "sensors": [{"id": 3917, "parameter": {"id": 2}}]}]},
    )
    api.routes["/v3/sensors/3917/measurements"] = paged([2])
    resource = OpenAQResource(
        mode="live",
        base_url=api.base_url,
        api_key=KEY,
        location_ids=[2178],
        min_request_interval_seconds=0.0,
        backoff_seconds=0.01,
    )
    with resource.get_client() as live:
        assert live.mode == "live"
        assert [loc["id"] for loc in live.list_locations()] == [2178]
        assert [len(p.results) for p in live.iter_measurement_pages(SENSOR, START, END)] == [2]
    assert api.requests[-1][1]["limit"] == "1000"


def test_resource_reads_the_key_from_the_environment_in_a_run(api, monkeypatch):
    api.routes["/v3/locations"] = lambda q, _: (200, {}, {"results": [{"id": 7, "sensors": []}]})
    monkeypatch.setenv("OPENAQ_API_KEY", KEY)

    @dg.asset
    def openaq_locations(openaq: OpenAQResource) -> int:
        with openaq.get_client() as live:
            return len(live.list_locations())

    resource = OpenAQResource(
        mode="live",
        base_url=api.base_url,
        api_key=dg.EnvVar("OPENAQ_API_KEY"),
        countries=["us"],
        min_request_interval_seconds=0.0,
    )
    result = dg.materialize([openaq_locations], resources={"openaq": resource})

    assert result.output_for_node("openaq_locations") == 1
    assert [(q["iso"], h["X-API-Key"]) for _, q, h, _ in api.requests] == [("US", KEY)]


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"api_key": KEY}, "needs a selection"),
        ({"countries": ["US"]}, "OPENAQ_API_KEY"),
        ({"countries": ["US"], "api_key": KEY, "mode": "prod"}, "must be"),
    ],
)
def test_resource_live_mode_refuses_bad_config(settings, error):
    resource = OpenAQResource(**{"mode": "live", **settings})
    with pytest.raises(OpenAQError, match=error):
        with resource.get_client():
            pass
