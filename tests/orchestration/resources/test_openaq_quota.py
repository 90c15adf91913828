"""A live OpenAQ day against a look-alike that enforces a per-minute and a per-hour quota with
its own counters: the shared limiter keeps the pull inside both, so the server never says 429.

The windows are scaled down (seconds instead of minutes and hours) so the test takes seconds.
The server stamps a request when its handler runs, the limiter when it sends: on a busy machine
the two differ by the time the request waits for a thread. The limiter's margin absorbs that, so
it is taken from the budget (half the shortest window), not from how quick this machine is.
"""

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from orchestration.resources.openaq import OpenAQResource
from tests.waiting import WAIT_SECONDS

# (limit, seconds): "per minute" and "per hour", scaled.
SERVER_WINDOWS = [(4, 1.0), (10, 4.0)]
MARGIN_SECONDS = SERVER_WINDOWS[0][1] / 2
SENSORS = 13  # 13 measurement requests + 1 listing: more than the "hourly" quota
START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


class QuotaServer:
    """Counts every request on arrival; answers 429 when a window is already full."""

    def __init__(self):
        self.arrivals: list[float] = []
        self.too_many = 0
        self.lock = threading.Lock()

    def admit(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if any(sum(1 for t in self.arrivals if t > now - seconds) >= limit for limit, seconds in SERVER_WINDOWS):
                self.too_many += 1
                return False
            self.arrivals.append(now)
            return True


def location():
    sensors = [
        {"id": 500 + i, "name": "pm25 µg/m³", "parameter": {"id": 2, "name": "pm25", "units": "µg/m³"}}
        for i in range(SENSORS)
    ]
    return {"id": 77, "name": "Quota Street", "sensors": sensors}


def measurement(hour):
    return {
        "value": 5.0 + hour,
        "parameter": {"id": 2, "name": "pm25", "units": "µg/m³"},
        "period": {
            "label": "raw",
            "interval": "01:00:00",
            "datetimeFrom": {"utc": f"2026-11-20T{hour:02d}:00:00Z"},
            "datetimeTo": {"utc": f"2026-11-20T{hour + 1:02d}:00:00Z"},
        },
    }


@pytest.fixture
def api():
    quota = QuotaServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if not quota.admit():
                body, status = {"detail": "Too many requests"}, 429
            elif urlsplit(self.path).path == "/v3/locations":
                body, status = {"meta": {"found": 1}, "results": [location()]}, 200
            else:
                body, status = {"meta": {"found": 2}, "results": [measurement(0), measurement(1)]}, 200
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-ratelimit-reset", str(SERVER_WINDOWS[0][1]))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    quota.base_url = f"http://127.0.0.1:{server.server_port}/v3"
    yield quota
    server.shutdown()
    server.server_close()


def resource(api, tmp_path, **overrides) -> OpenAQResource:
    settings = dict(
        mode="live",
        base_url=api.base_url,
        api_key="test-key",
        countries=["FR"],
        page_limit=1000,
        rate_limits=",".join(f"{limit}/{seconds}" for limit, seconds in SERVER_WINDOWS),
        rate_limit_margin_seconds=MARGIN_SECONDS,
        rate_limit_path=str(tmp_path / "ratelimits.sqlite"),
        backoff_seconds=0.01,
    )
    return OpenAQResource(**{**settings, **overrides})


def test_a_day_beyond_the_hourly_quota_spreads_itself_and_gets_no_429(api, tmp_path, caplog):
    openaq = resource(api, tmp_path)
    with caplog.at_level("WARNING"):
        locations = openaq.fetch_locations()
        pages = list(openaq.fetch_measurement_pages(locations, START, END))

    assert api.too_many == 0
    assert len(api.arrivals) == 1 + SENSORS
    assert sum(len(p.results) for p in pages) == 2 * SENSORS
    # 13 requests at 10 per "hour" of 4 s: the pull announces that it needs at least one more hour.
    assert any(f"{SENSORS} sensors need at least {SENSORS} requests" in r.getMessage() for r in caplog.records)
    assert api.arrivals[-1] - api.arrivals[0] >= SERVER_WINDOWS[1][1]


def test_two_pulls_at_once_share_one_budget(api, tmp_path):
    """Two runs pulling at the same time (threads here, processes in a deployment: the budget is
    the same file) still stay inside the quota together."""
    locations = [location()]
    errors = []

    def pull():
        try:
            list(resource(api, tmp_path).fetch_measurement_pages(locations, START, END))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT_SECONDS)
    assert errors == [] and api.too_many == 0
    assert len(api.arrivals) == 2 * SENSORS


def test_without_the_limiter_the_same_day_runs_into_the_quota(api, tmp_path):
    """The look-alike's counters are real: the same pull with no limiter collects 429s."""
    openaq = resource(api, tmp_path, rate_limit_path=None, max_retries=8)
    list(openaq.fetch_measurement_pages([location()], START, END))
    assert api.too_many > 0
