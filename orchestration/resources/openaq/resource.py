"""The OpenAQ v3 source as a Dagster resource: one switch between the live API and sample data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol

import dagster as dg
import requests
from pydantic import Field

from orchestration.resources.openaq.errors import OpenAQAuthError, OpenAQError
from orchestration.resources.openaq.live import LiveOpenAQClient
from orchestration.resources.openaq.pages import MeasurementPage, SensorRef, sensors_of
from orchestration.resources.openaq.sample import SampleOpenAQClient
from orchestration.resources.ratelimit import SharedRateLimiter, minimum_seconds, parse_windows


class OpenAQClient(Protocol):
    mode: str  # "live" or "sample"

    def list_locations(self) -> list[dict]:
        """Location objects as received for the configured selection, de-duplicated and sorted by id."""
        ...

    def iter_measurement_pages(self, sensor: SensorRef, start: datetime, end: datetime) -> Iterator[MeasurementPage]:
        """Pages of one sensor's measurements over [start, end); start and end tz-aware UTC."""
        ...


class OpenAQResource(dg.ConfigurableResource):
    """Air-quality locations and sensor measurements from the OpenAQ v3 API, or synthetic ones."""

    mode: str = Field(default="sample", description='"sample" (synthetic, no API calls) or "live".')
    base_url: str = "https://api.openaq.org/v3"
    api_key: str | None = Field(default=None, description='Pass dg.EnvVar("OPENAQ_API_KEY").')
    countries: list[str] = Field(default=[], description="ISO country codes: one listing per code.")
    bbox: str | None = Field(default=None, description="minx,miny,maxx,maxy; narrows country listings.")
    location_ids: list[int] = Field(default=[], description="Explicit location ids, added to the listings.")
    measurements_path: str = Field(default="measurements", description='"measurements" (raw) or "hours".')
    page_limit: int = 1000
    request_timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 2.0
    min_request_interval_seconds: float = Field(default=0.0, description="Extra spacing between requests.")
    rate_limits: str = Field(
        default="60/60,2000/3600",
        description="The key's quota as requests/seconds windows (OpenAQ's free key: 60/min, 2,000/h).",
    )
    rate_limit_margin_seconds: float = Field(default=1.0, description="Widens every window by the network latency.")
    rate_limit_path: str | None = Field(
        default=None, description="SQLite file holding the quota's budget, shared by every process; None: no limiter."
    )
    sample_locations: int = 20
    sample_interval_minutes: int = Field(
        default=60, description="Monitors' interval; low-cost sample sensors report every 10 or 1 minutes."
    )
    sample_bad_row_ratio: float = 0.002

    @contextmanager
    def get_client(self) -> Iterator[OpenAQClient]:
        log = dg.get_dagster_logger()
        if self.mode == "sample":
            # Loud on purpose: sample data flowing into a prod run must be obvious in the logs.
            log.warning("OpenAQ source in SAMPLE mode: synthetic data, no API calls")
            yield self._sample_client()
        elif self.mode == "live":
            self._check_live_config()
            log.warning(f"OpenAQ source in LIVE mode against {self.base_url}")
            with requests.Session() as session:
                yield LiveOpenAQClient(
                    session,
                    base_url=self.base_url,
                    api_key=self.api_key,
                    countries=[code.strip().upper() for code in self.countries],
                    bbox=self.bbox,
                    location_ids=self.location_ids,
                    measurements_path=self.measurements_path,
                    page_limit=self.page_limit,
                    request_timeout_seconds=self.request_timeout_seconds,
                    max_retries=self.max_retries,
                    backoff_seconds=self.backoff_seconds,
                    min_request_interval_seconds=self.min_request_interval_seconds,
                    limiter=self._limiter(),
                    log=log,
                )
        else:
            raise OpenAQError(f'OpenAQResource.mode must be "sample" or "live", got {self.mode!r}')

    def fetch_locations(self) -> list[dict]:
        """The configured locations as received (with their sensors and parameters)."""
        with self.get_client() as client:
            return client.list_locations()

    def fetch_measurement_pages(
        self, locations: Sequence[dict], start: datetime, end: datetime
    ) -> Iterator[MeasurementPage]:
        """Every measurement page of every sensor of `locations` over [start, end)."""
        sensors = [sensor for location in locations for sensor in sensors_of(location)]
        with self.get_client() as client:
            if client.mode == "live":
                self._announce_duration(len(sensors))
            for sensor in sensors:
                yield from client.iter_measurement_pages(sensor, start, end)

    def _limiter(self) -> SharedRateLimiter | None:
        if self.rate_limit_path is None:
            return None
        return SharedRateLimiter(
            self.rate_limit_path,
            f"openaq:{self.base_url}",
            parse_windows(self.rate_limits),
            margin_seconds=self.rate_limit_margin_seconds,
        )

    def _announce_duration(self, sensors: int) -> None:
        # At least one request per sensor: a day beyond the hourly quota takes hours, and says so.
        windows = parse_windows(self.rate_limits)
        seconds = minimum_seconds(sensors, windows)
        quota = ", ".join(str(w) for w in windows)
        dg.get_dagster_logger().warning(
            f"OpenAQ pull: {sensors} sensors need at least {sensors} requests; under the quota ({quota}) "
            f"that takes at least {seconds / 60:.0f} min"
        )

    def _sample_client(self) -> SampleOpenAQClient:
        hourly = self.measurements_path.strip("/") == "hours"
        return SampleOpenAQClient(
            locations=self.sample_locations,
            # /hours serves hourly aggregates whatever the raw cadence.
            interval_minutes=60 if hourly else self.sample_interval_minutes,
            bad_row_ratio=self.sample_bad_row_ratio,
            page_limit=self.page_limit,
            location_ids=self.location_ids,
            period_label="1hour" if hourly else "raw",
            # Raw data comes at each sensor's own cadence: low-cost ones every 10 or 1 minutes.
            native_intervals=not hourly,
        )

    def _check_live_config(self) -> None:
        if not (self.countries or self.bbox or self.location_ids):
            # Without a filter /locations lists the whole world: tens of thousands of sensors.
            raise OpenAQError("OpenAQ LIVE mode needs a selection: set countries, bbox or location_ids")
        if not self.api_key:
            raise OpenAQAuthError("OpenAQ LIVE mode needs an API key: set OPENAQ_API_KEY (v3 requires one)")
        if self.page_limit < 1 or self.max_retries < 0:
            raise OpenAQError("OpenAQResource: page_limit must be >= 1 and max_retries >= 0")
