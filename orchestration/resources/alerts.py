"""A Slack-compatible incoming webhook for failure alerts (`ALERT_WEBHOOK_URL`).

Alerts are a side channel: a receiver that is down is retried a few times with backoff, then
given up on with an error in the sensor's log. It never raises into the caller, so an alert
can never fail or hold up a pipeline run.
"""

import logging
import time

import dagster as dg
import requests

from orchestration.resources.web import NETWORK_ERRORS

log = logging.getLogger(__name__)
_said_off = False


class AlertWebhook(dg.ConfigurableResource):
    """Posts `{"text": ...}` (Slack's incoming-webhook format) to `url`; off when `url` is None."""

    url: str | None = None
    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.5

    def enabled(self) -> bool:
        global _said_off
        if self.url:
            return True
        if not _said_off:
            log.warning("ALERT_WEBHOOK_URL is not set: failure alerts are off")
            _said_off = True
        return False

    def post(self, text: str) -> bool:
        """True once the receiver accepted the alert (2xx); False when off or every attempt failed."""
        if not self.enabled():
            return False
        last_error = "no attempt made"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = requests.post(self.url, json={"text": text}, timeout=self.timeout_seconds)
            except NETWORK_ERRORS as error:
                last_error = f"{type(error).__name__}: {error}"
                continue
            if response.ok:
                return True
            last_error = f"HTTP {response.status_code}"
            if 400 <= response.status_code < 500 and response.status_code != 429:
                break  # the receiver refuses this payload: repeating it will not help
        # The URL is a secret (it carries the webhook's token): never log it.
        log.error(f"failure alert not delivered after {attempt + 1} attempt(s): {last_error}")
        return False
