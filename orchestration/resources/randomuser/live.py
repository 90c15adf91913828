"""The live randomuser.me client: one seeded page per request, with bounded retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime

import requests

from orchestration.resources.randomuser.pages import (
    API_VERSION,
    RandomUserError,
    UserCall,
    parse_users_page,
    version_of,
)
from orchestration.resources.ratelimit import SharedRateLimiter
from orchestration.resources.web import NETWORK_ERRORS

# The quota is about 20k users per 5 minutes per IP: no honest Retry-After exceeds the window.
MAX_RATE_LIMIT_WAIT_SECONDS = 300.0


class LiveRandomUserClient:
    mode = "live"

    def __init__(
        self,
        session: requests.Session,
        *,
        base_url: str,
        nationalities: Sequence[str] = (),
        request_timeout_seconds: float = 30.0,
        max_retries: int = 5,
        backoff_seconds: float = 2.0,
        rate_limit_wait_seconds: float = 60.0,
        limiter: SharedRateLimiter | None = None,
        log: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._session = session
        self._url = base_url if base_url.endswith("/") else base_url + "/"
        self._nat = ",".join(code.strip().upper() for code in nationalities if code.strip())
        self._timeout = request_timeout_seconds
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._rate_limit_wait = rate_limit_wait_seconds
        self._limiter = limiter
        self._log = log or logging.getLogger(__name__)
        self._sleep = sleep

    def fetch_page(self, seed: str, call: UserCall) -> list[dict]:
        """`call.results` users of page `call.page` of `seed`, exactly as received.

        Every failure is retried, including a 200 whose body is `{"error": ...}` or an empty
        list: the API answers both under load and a retry usually succeeds.
        """
        params = {"results": call.results, "seed": seed, "page": call.page}
        if self._nat:
            params["nat"] = self._nat
        attempts = self._max_retries + 1
        for attempt in range(1, attempts + 1):
            if self._limiter is not None:
                # The quota counts users per IP, not requests: a call spends its page size.
                self._limiter.acquire(call.results)
            try:
                response = self._session.get(
                    self._url, params=params, headers={"Accept": "application/json"}, timeout=self._timeout
                )
            except NETWORK_ERRORS as exc:
                problem, wait = type(exc).__name__, self._backoff_for(attempt)
            else:
                users, problem, wait = self._read(response, seed, call, attempt)
                if users is not None:
                    return users
            if attempt == attempts:
                raise RandomUserError(
                    f"randomuser GET {self._url} (seed {seed}, page {call.page}, results {call.results}) "
                    f"failed after {attempts} attempts: {problem}"
                )
            self._log.warning(
                "randomuser page %d of %s: %s; retry %d/%d in %.1fs",
                call.page,
                seed,
                problem,
                attempt,
                self._max_retries,
                wait,
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _read(
        self, response: requests.Response, seed: str, call: UserCall, attempt: int
    ) -> tuple[list[dict] | None, str | None, float]:
        """(users, None, 0) for a usable response, else (None, problem, seconds to wait)."""
        status = response.status_code
        if status == 429:
            return None, "HTTP 429 rate limited", self._retry_after(response, attempt)
        if 400 <= status < 500:
            # A bad parameter or path: the same request fails the same way every time.
            raise RandomUserError(f"randomuser HTTP {status} for {response.url}: {response.text[:300]}")
        page = parse_users_page(response.content, call, seed)
        if status >= 500:
            # Usually with the API's own {"error": ...} body: report it, it says more.
            return None, f"HTTP {status}: {page.problem or 'server error'}", self._backoff_for(attempt)
        if page.problem is not None:
            return None, page.problem, self._backoff_for(attempt)
        version = version_of(response.content)
        if version is not None and version != API_VERSION:
            raise RandomUserError(
                f"randomuser answered API version {version} at {self._url}, expected {API_VERSION}: "
                "pin the version in base_url (e.g. https://randomuser.me/api/1.4/)"
            )
        return page.results, None, 0.0

    def _backoff_for(self, attempt: int) -> float:
        return self._backoff * 2 ** (attempt - 1)

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        # Without a usable Retry-After, back off from a longer base than for errors: the quota
        # refills over minutes, and the usual seconds of backoff would spend every retry at once.
        fallback = self._rate_limit_wait * 2 ** (attempt - 1)
        header = response.headers.get("Retry-After")
        try:
            wait = float(header) if header is not None else fallback
        except ValueError:  # the HTTP-date form
            try:
                wait = parsedate_to_datetime(header).timestamp() - time.time()
            except (TypeError, ValueError):
                wait = fallback
        return min(max(wait, 0.0), MAX_RATE_LIMIT_WAIT_SECONDS)
