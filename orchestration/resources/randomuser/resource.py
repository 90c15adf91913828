"""The randomuser.me source as a Dagster resource: one switch between the live API and sample users."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Protocol

import dagster as dg
import requests
from pydantic import Field

from orchestration.resources.randomuser.live import LiveRandomUserClient
from orchestration.resources.randomuser.pages import (
    MAX_RESULTS_PER_CALL,
    RandomUserError,
    UserCall,
    day_seed,
    plan_calls,
)
from orchestration.resources.randomuser.sample import NATIONALITIES, SampleRandomUserClient
from orchestration.resources.ratelimit import SharedRateLimiter, parse_windows


class RandomUserClient(Protocol):
    mode: str  # "live" or "sample"

    def fetch_page(self, seed: str, call: UserCall) -> list[dict]:
        """Exactly `call.results` user objects as received: page `call.page` of `seed`."""
        ...


class RandomUserResource(dg.ConfigurableResource):
    """Synthetic people from the randomuser.me API (v1.4), or an offline look-alike of it."""

    mode: str = Field(default="sample", description='"sample" (generated, no API calls) or "live".')
    base_url: str = Field(
        default="https://randomuser.me/api/1.4/",
        description="Keep the version in the path: another version changes the user shape.",
    )
    users_per_day: int = Field(default=1000, description="Users per partition day, fetched in calls of <= 5000.")
    nationalities: list[str] = Field(default=[], description="`nat` filter, e.g. ['NO', 'TR']; empty: all.")
    request_timeout_seconds: float = 30.0
    max_retries: int = Field(default=5, description="Retries per call after the first attempt.")
    backoff_seconds: float = Field(default=2.0, description="First retry wait; doubles per retry.")
    rate_limit_wait_seconds: float = Field(
        default=60.0, description="First wait after a 429 without Retry-After; doubles per retry, at most 300."
    )
    rate_limits: str = Field(
        default="20000/300",
        description="The per-IP quota as users/seconds windows (about 20k users per 5 minutes).",
    )
    rate_limit_path: str | None = Field(
        default=None, description="SQLite file holding the quota's budget, shared by every process; None: no limiter."
    )
    sample_bad_row_ratio: float = Field(
        default=0.0, description="Sample mode: share of users with a missing dob or an invalid uuid."
    )

    @contextmanager
    def get_client(self) -> Iterator[RandomUserClient]:
        self._check_config()
        log = dg.get_dagster_logger()
        if self.mode == "sample":
            # Loud on purpose: sample data flowing into a prod run must be obvious in the logs.
            log.warning("randomuser source in SAMPLE mode: generated users, no API calls")
            yield SampleRandomUserClient(nationalities=self.nationalities, bad_row_ratio=self.sample_bad_row_ratio)
        else:
            log.warning(f"randomuser source in LIVE mode against {self.base_url}")
            with requests.Session() as session:
                yield LiveRandomUserClient(
                    session,
                    base_url=self.base_url,
                    nationalities=self.nationalities,
                    request_timeout_seconds=self.request_timeout_seconds,
                    max_retries=self.max_retries,
                    backoff_seconds=self.backoff_seconds,
                    rate_limit_wait_seconds=self.rate_limit_wait_seconds,
                    limiter=self._limiter(),
                    log=log,
                )

    def fetch_users(self, day: date) -> Iterator[dict]:
        """`users_per_day` user objects as received, seeded by `day`: a backfill of a day gets
        the same users again. Lazy: one call's users (<= 5000) are held at a time."""
        seed = day_seed(day)
        with self.get_client() as client:
            for call in plan_calls(self.users_per_day, MAX_RESULTS_PER_CALL):
                yield from client.fetch_page(seed, call)

    def _limiter(self) -> SharedRateLimiter | None:
        if self.rate_limit_path is None:
            return None
        return SharedRateLimiter(
            self.rate_limit_path, f"randomuser:{self.base_url}", parse_windows(self.rate_limits), margin_seconds=1.0
        )

    def _check_config(self) -> None:
        if self.mode not in ("sample", "live"):
            raise RandomUserError(f'RandomUserResource.mode must be "sample" or "live", got {self.mode!r}')
        if self.users_per_day < 0 or self.max_retries < 0 or self.request_timeout_seconds <= 0:
            raise RandomUserError(
                "RandomUserResource: users_per_day and max_retries must be >= 0, request_timeout_seconds > 0"
            )
        unknown = sorted({code.strip().upper() for code in self.nationalities} - set(NATIONALITIES))
        if unknown:
            # The API ignores codes it does not know: a typo would quietly widen the selection.
            raise RandomUserError(f"unknown nationalities {unknown}; randomuser 1.4 has {sorted(NATIONALITIES)}")
        if not 0.0 <= self.sample_bad_row_ratio <= 1.0:
            raise RandomUserError("RandomUserResource.sample_bad_row_ratio must be within 0..1")
