"""The ad events source as a Dagster resource: sample events, or NDJSON from ADS_EVENTS_URL.

No public ad API exists, so live mode needs an endpoint of the operator's own (an ad server's
export): GET `<url>?day=YYYY-MM-DD` answering one JSON event per line. Live with no endpoint is
not an error of the run: the pull asks `skip_reason()` first and publishes an empty day, so a
platform with live air quality and no ad server still materializes its whole graph.
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

    def skip_reason(self) -> str | None:
        """Why a pull has nothing to call (live mode, no endpoint configured), else None."""
        if self.mode not in ("sample", "live"):
            raise AdEventsError(f'AdEventsResource.mode must be "sample" or "live", got {self.mode!r}')
        return "ADS_EVENTS_URL is not set" if self.mode == "live" and not self.url else None

    def fetch_events(self, day: date) -> Iterator[dict]:
        log = dg.get_dagster_logger()
        if (reason := self.skip_reason()) is not None:
            # Callers skip first (the pull does); one that did not gets the reason and the fix.
            raise AdEventsError(
                f"ads.events has no public API and {reason}: set it to an NDJSON endpoint of your ad "
                "server (GET ?day=YYYY-MM-DD), or run with ADS_EVENTS_MODE=sample"
            )
        if self.mode == "sample":
            log.warning("ads source in SAMPLE mode: generated events, no endpoint called")
            yield from sample_events(day)
            return
        log.warning(f"ads source in LIVE mode against {self.url}")
        try:
            with requests.get(
                self.url, params={"day": day.isoformat()}, stream=True, timeout=self.request_timeout_seconds
            ) as response:
                response.raise_for_status()
                yield from parse_ndjson_lines(response.iter_lines(decode_unicode=True))
        except requests.RequestException as error:
            raise AdEventsError(f"ads events endpoint failed for {day}: {error}") from error
