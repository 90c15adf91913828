"""randomuser.me v1.4 source: a live HTTP client and a deterministic sample client behind one resource."""

from orchestration.resources.randomuser.live import LiveRandomUserClient
from orchestration.resources.randomuser.pages import (
    API_VERSION,
    MAX_RESULTS_PER_CALL,
    RandomUserError,
    UserCall,
    UsersPage,
    day_seed,
    parse_users_page,
    plan_calls,
    version_of,
)
from orchestration.resources.randomuser.resource import RandomUserClient, RandomUserResource
from orchestration.resources.randomuser.sample import NATIONALITIES, SampleRandomUserClient

__all__ = [
    "API_VERSION",
    "LiveRandomUserClient",
    "MAX_RESULTS_PER_CALL",
    "NATIONALITIES",
    "RandomUserClient",
    "RandomUserError",
    "RandomUserResource",
    "SampleRandomUserClient",
    "UserCall",
    "UsersPage",
    "day_seed",
    "parse_users_page",
    "plan_calls",
    "version_of",
]
