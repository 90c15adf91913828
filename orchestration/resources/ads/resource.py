"""The ad events source as a Dagster resource: sample events, or NDJSON from ADS_EVENTS_URL.

No public ad API exists, so live mode needs an endpoint of the operator's own (an ad server's
export): GET `<url>?day=YYYY-MM-DD` answering one JSON event per line.
"""

import json
from collections.abc import Iterator
from datetime import date

import dagster as dg
import requests
from pydantic import Field

from orchestration.resources.ads.sample import sample_events


class AdEventsError(Exception):
    """The ad events source is misconfigured or its endpoint failed."""


def parse_ndjson_lines(lines: Iterator[str]) -> Iterator[dict]:
    """One event per non-blank line. A line that is not a JSON object is passed on wrapped as
    `{"unparseable_line": ...}`: the topic contract rejects it, so it reaches the DLQ with its
    text instead of vanishing here."""
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        yield event if isinstance(event, dict) else {"unparseable_line": line}


class AdEventsResource(dg.ConfigurableResource):
    """A day of ad events (impressions, clicks, conversions)."""

    mode: str = Field(default="sample", description='"sample" (generated, seeded by the day) or "live".')
    url: str | None = Field(default=None, description="Live mode: the NDJSON endpoint (ADS_EVENTS_URL).")
    request_timeout_seconds: float = 60.0

    def fetch_events(self, day: date) -> Iterator[dict]:
        log = dg.get_dagster_logger()
        if self.mode == "sample":
            log.warning("ads source in SAMPLE mode: generated events, no endpoint called")
            yield from sample_events(day)
            return
        if self.mode != "live":
            raise AdEventsError(f'AdEventsResource.mode must be "sample" or "live", got {self.mode!r}')
        if not self.url:
            raise AdEventsError(
                "ads.events has no public API: set ADS_EVENTS_URL to an NDJSON endpoint of your ad "
                "server (GET ?day=YYYY-MM-DD), or run with SOURCES_MODE=sample"
            )
        log.warning(f"ads source in LIVE mode against {self.url}")
        try:
            with requests.get(
                self.url, params={"day": day.isoformat()}, stream=True, timeout=self.request_timeout_seconds
            ) as response:
                response.raise_for_status()
                yield from parse_ndjson_lines(response.iter_lines(decode_unicode=True))
        except requests.RequestException as error:
            raise AdEventsError(f"ads events endpoint failed for {day}: {error}") from error
