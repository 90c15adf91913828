"""Pure helpers for the randomuser.me v1.4 API: seeds, the call plan and response parsing.

No I/O here, so every API quirk is unit-testable: the API signals trouble in a 200 body, it
turns an over-large `results` into 1 without a word, and it can answer an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from orchestration.resources.web import decode_json_body

API_VERSION = "1.4"
# The API's documented maximum. A larger `results` is not refused: it silently becomes 1.
MAX_RESULTS_PER_CALL = 5000
SEED_PREFIX = "airstream"


class RandomUserError(Exception):
    """A failure talking to randomuser.me that retrying will not (or did not) fix."""


@dataclass(frozen=True)
class UserCall:
    """One request: the `page` of a seed's user sequence, `results` users long."""

    page: int  # 1-based
    results: int


@dataclass(frozen=True)
class UsersPage:
    results: list[dict] | None  # user objects exactly as received; None when rejected
    problem: str | None = None  # why the body cannot be used; retrying may help


def day_seed(day: date, prefix: str = SEED_PREFIX) -> str:
    """The seed of a partition day: the same day always asks for the same users."""
    return f"{prefix}-{day.isoformat()}"


def plan_calls(total: int, per_call: int = MAX_RESULTS_PER_CALL) -> list[UserCall]:
    """Calls of at most `per_call` users adding up to `total`: 12000 -> 5000, 5000, 2000.

    With a seed, each page is its own generated sequence, so the short last call receives a
    prefix of what a full one would: a given `total` always yields the same users.
    """
    if total < 0:
        raise ValueError(f"cannot fetch a negative number of users: {total}")
    if not 1 <= per_call <= MAX_RESULTS_PER_CALL:
        # Never ask for more than 5000: the API would answer one user and the count would lie.
        raise ValueError(f"results per call must be within 1..{MAX_RESULTS_PER_CALL}, got {per_call}")
    full, rest = divmod(total, per_call)
    calls = [UserCall(page, per_call) for page in range(1, full + 1)]
    return calls + ([UserCall(full + 1, rest)] if rest else [])


def parse_users_page(body: bytes | str | dict, call: UserCall, seed: str | None = None) -> UsersPage:
    """The users of one response, or the problem with it. A problem is never raised here: the
    client decides whether to retry (an `{"error": ...}` body is transient, the API says so)."""
    parsed, problem = decode_json_body(body)
    if problem is not None:
        return UsersPage(None, problem)
    if not isinstance(parsed, dict):
        return UsersPage(None, f"body is a JSON {type(parsed).__name__}, not an object")
    if "error" in parsed:
        return UsersPage(None, f"API error: {str(parsed['error'])[:200]}")
    results = parsed.get("results")
    if not isinstance(results, list):
        return UsersPage(None, "body has no 'results' list" if results is None else "'results' is not a list")
    if not results:
        return UsersPage(None, "empty 'results' list")
    for index, user in enumerate(results):
        if not isinstance(user, dict):
            return UsersPage(None, f"user #{index} is a {type(user).__name__}, not an object")
    if len(results) != call.results:
        # The signature of an over-large `results` turned into 1, or a cut-off response.
        return UsersPage(None, f"asked for {call.results} users, got {len(results)}")
    info = parsed.get("info") if isinstance(parsed.get("info"), dict) else {}
    if seed is not None and "seed" in info and info["seed"] != seed:
        return UsersPage(None, f"asked for seed {seed!r}, got {info['seed']!r}")
    if "page" in info and info["page"] != call.page:
        return UsersPage(None, f"asked for page {call.page}, got {info['page']!r}")
    return UsersPage(results)


def version_of(body: bytes | str | dict) -> str | None:
    """info.version of a body, if it has one: a different version means another user shape."""
    parsed, _ = decode_json_body(body)
    info = parsed.get("info") if isinstance(parsed, dict) else None
    version = info.get("version") if isinstance(info, dict) else None
    return str(version) if version is not None else None
