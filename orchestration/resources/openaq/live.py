"""The live OpenAQ v3 client: paging, pacing and retries over a requests.Session."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import requests

from orchestration.resources.openaq.errors import OpenAQAuthError, OpenAQError, OpenAQGoneError
from orchestration.resources.openaq.pages import (
    MeasurementPage,
    SensorRef,
    as_utc,
    is_last_page,
    parse_locations_page,
    parse_measurement_page,
)
from orchestration.resources.ratelimit import SharedRateLimiter
from orchestration.resources.web import NETWORK_ERRORS

# The hourly quota resets within the hour: a longer x-ratelimit-reset is a bogus header.
MAX_RATE_LIMIT_WAIT_SECONDS = 3600.0


class LiveOpenAQClient:
    mode = "live"

    def __init__(
        self,
        session: requests.Session,
        *,
        base_url: str,
        api_key: str | None,
        countries: Sequence[str] = (),
        bbox: str | None = None,
        location_ids: Sequence[int] = (),
        measurements_path: str = "measurements",
        page_limit: int = 1000,
        request_timeout_seconds: float = 30.0,
        max_retries: int = 5,
        backoff_seconds: float = 2.0,
        min_request_interval_seconds: float = 0.0,
        limiter: SharedRateLimiter | None = None,
        log: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._countries = list(countries)
        self._bbox = bbox
        self._location_ids = list(location_ids)
        self._measurements_path = measurements_path.strip("/")
        self._limit = page_limit
        self._timeout = request_timeout_seconds
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._min_interval = min_request_interval_seconds
        self._limiter = limiter
        self._log = log or logging.getLogger(__name__)
        self._sleep = sleep
        self._last_request_at: float | None = None

    def list_locations(self) -> list[dict]:
        """Explicit ids plus one listing per country code (each narrowed by bbox if set), or one
        bbox listing; the union de-duplicated by id, sorted by id."""
        by_id: dict[int, dict] = {}
        for location_id in self._location_ids:
            locations, _ = parse_locations_page(self._get(f"/locations/{int(location_id)}", {}).content)
            by_id.update((loc["id"], loc) for loc in locations)
        bbox = {"bbox": self._bbox} if self._bbox else {}
        listings = [{"iso": code, **bbox} for code in self._countries] or ([bbox] if bbox else [])
        for filters in listings:
            page = 1
            while True:
                params = {**filters, "limit": self._limit, "page": page}
                locations, _ = parse_locations_page(self._get("/locations", params).content)
                by_id.update((loc["id"], loc) for loc in locations)
                if len(locations) < self._limit:
                    break
                page += 1
        return [by_id[key] for key in sorted(by_id)]

    def iter_measurement_pages(self, sensor: SensorRef, start: datetime, end: datetime) -> Iterator[MeasurementPage]:
        """Pages of one sensor over [start, end), lazily. OpenAQ matches on its own period bounds,
        so edge rows are possible; trimming them to the window is the cleaning step's job."""
        path = f"/sensors/{sensor.sensor_id}/{self._measurements_path}"
        window = {"datetime_from": _utc_param(start), "datetime_to": _utc_param(end)}
        page = 1
        while True:
            params = {**window, "limit": self._limit, "page": page}
            parsed = parse_measurement_page(self._get(path, params).content, sensor, page)
            if parsed.rejected_reason:
                why = parsed.rejected_reason
                self._log.warning("OpenAQ rejected page: sensor %s page %d: %s", sensor.sensor_id, page, why)
            yield parsed
            if is_last_page(parsed, self._limit):
                return
            page += 1

    def _get(self, path: str, params: dict) -> requests.Response:
        url = self._base_url + path
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        attempts = self._max_retries + 1
        for attempt in range(1, attempts + 1):
            self._pace()
            try:
                response = self._session.get(url, params=params, headers=headers, timeout=self._timeout)
            except NETWORK_ERRORS as exc:
                problem, wait = type(exc).__name__, self._backoff_for(attempt)
            else:
                status = response.status_code
                if status < 400:
                    return response
                shown = self._redact(response.url)
                if status == 429:
                    problem, wait = "HTTP 429 rate limited", self._reset_wait(response, attempt)
                elif status >= 500:
                    problem, wait = f"HTTP {status}", self._backoff_for(attempt)
                else:
                    raise self._client_error(status, shown, response)
            if attempt == attempts:
                shown = self._redact(url)
                raise OpenAQError(f"OpenAQ GET {shown} failed after {attempts} attempts: {problem}")
            self._log.warning(
                "OpenAQ GET %s: %s; retry %d/%d in %.1fs", path, problem, attempt, self._max_retries, wait
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _client_error(self, status: int, url: str, response: requests.Response) -> OpenAQError:
        if status == 401:
            return OpenAQAuthError(
                f"OpenAQ rejected the API key (HTTP 401) for {url}: set OPENAQ_API_KEY to a valid v3 key"
            )
        if status == 410:
            return OpenAQGoneError(
                f"OpenAQ endpoint retired (HTTP 410) at {url}: API v1 and v2 are gone, use v3 "
                "(base_url https://api.openaq.org/v3)"
            )
        detail = self._redact(response.text[:300])
        return OpenAQError(f"OpenAQ HTTP {status} for {url}: {detail}")

    def _pace(self) -> None:
        # The key's quota (60/min and 2,000/h on a free key) is shared by every process of the
        # deployment: waiting for the shared budget beats collecting 429s. A retry spends it too.
        if self._limiter is not None:
            waited = self._limiter.acquire()
            if waited >= 1:
                self._log.info("OpenAQ quota (%s): waited %.0fs", self._limiter.describe(), waited)
        now = time.monotonic()
        if self._last_request_at is not None:
            remaining = self._min_interval - (now - self._last_request_at)
            if remaining > 0:
                self._sleep(remaining)
        self._last_request_at = time.monotonic()

    def _backoff_for(self, attempt: int) -> float:
        return self._backoff * 2 ** (attempt - 1)

    def _reset_wait(self, response: requests.Response, attempt: int) -> float:
        try:
            wait = float(response.headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return self._backoff_for(attempt)
        if wait > 1e9:  # an epoch timestamp rather than seconds-until-reset
            wait -= time.time()
        return min(max(wait, 0.0), MAX_RATE_LIMIT_WAIT_SECONDS)

    def _redact(self, text: str) -> str:
        # The key travels in a header, but a proxy or error page could echo it back.
        return text.replace(self._api_key, "***") if self._api_key else text


def _utc_param(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
