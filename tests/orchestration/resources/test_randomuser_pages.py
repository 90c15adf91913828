"""Pure randomuser.me helpers: the seed, the call plan and every response quirk."""

import json
from datetime import date

import pytest

from orchestration.resources.randomuser import (
    MAX_RESULTS_PER_CALL,
    UserCall,
    UsersPage,
    day_seed,
    parse_users_page,
    plan_calls,
    version_of,
)

SEED = "airstream-2026-11-20"


def body(count, page=1, seed=SEED, **info):
    users = [{"login": {"uuid": f"00000000-0000-4000-8000-{i:012d}"}, "nat": "NO"} for i in range(count)]
    return {"results": users, "info": {"seed": seed, "results": count, "page": page, "version": "1.4", **info}}


def test_day_seed_names_the_day():
    assert day_seed(date(2026, 11, 20)) == SEED
    assert day_seed(date(2026, 1, 2), prefix="x") == "x-2026-01-02"


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, []),
        (1, [(1, 1)]),
        (1000, [(1, 1000)]),
        (5000, [(1, 5000)]),
        (5001, [(1, 5000), (2, 1)]),
        (12000, [(1, 5000), (2, 5000), (3, 2000)]),
        (15000, [(1, 5000), (2, 5000), (3, 5000)]),
    ],
)
def test_plan_never_asks_for_more_than_5000(total, expected):
    calls = plan_calls(total)
    assert [(c.page, c.results) for c in calls] == expected
    assert sum(c.results for c in calls) == total
    assert all(1 <= c.results <= MAX_RESULTS_PER_CALL == 5000 for c in calls)


def test_plan_with_smaller_calls():
    assert [(c.page, c.results) for c in plan_calls(7, per_call=3)] == [(1, 3), (2, 3), (3, 1)]


@pytest.mark.parametrize(("total", "per_call"), [(-1, 5000), (10, 0), (10, 5001)])
def test_plan_refuses_impossible_requests(total, per_call):
    with pytest.raises(ValueError):
        plan_calls(total, per_call)


@pytest.mark.parametrize("as_type", [bytes, str, dict])
def test_good_page_from_any_body_type(as_type):
    good = body(3, page=2)
    raw = {bytes: lambda b: json.dumps(b).encode(), str: json.dumps, dict: lambda b: b}[as_type](good)
    assert parse_users_page(raw, UserCall(2, 3), SEED) == UsersPage(good["results"])


def test_users_come_back_exactly_as_received():
    user = {
        "location": {"postcode": "0376", "coordinates": {"latitude": "-69.8246"}},
        "id": {"value": None},
        "name": {"first": "Åse"},
    }
    page = parse_users_page(json.dumps({"results": [user], "info": {"page": 1}}).encode(), UserCall(1, 1))
    assert page.results == [user] and page.problem is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            b'{"error": "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. Thank you."}',
            "API error: Uh oh, something has gone wrong",
        ),
        (json.dumps({"results": [], "info": {"page": 1}}), "empty 'results' list"),
        (json.dumps({"info": {}}), "no 'results' list"),
        (json.dumps({"results": {"a": 1}}), "'results' is not a list"),
        (json.dumps({"results": [1, 2, 3]}), "user #0 is a int"),
        (json.dumps([1]), "JSON list, not an object"),
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b'{"results": [ {"gender"', "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        # The API's answer to results > 5000: one user, no complaint.
        (json.dumps(body(1)), "asked for 3 users, got 1"),
        (json.dumps(body(3, seed="other")), "asked for seed 'airstream-2026-11-20', got 'other'"),
        (json.dumps(body(3, page=2)), "asked for page 1, got 2"),
    ],
)
def test_unusable_bodies_are_reported_not_raised(raw, problem):
    page = parse_users_page(raw, UserCall(1, 3), SEED)
    assert page.results is None
    assert problem in page.problem


def test_info_is_optional():
    assert parse_users_page({"results": [{"nat": "US"}]}, UserCall(4, 1), SEED).problem is None


@pytest.mark.parametrize(
    ("raw", "version"),
    [(body(1), "1.4"), (body(1, version="1.3"), "1.3"), ({"results": []}, None), (b"nope", None), ("[]", None)],
)
def test_version_of(raw, version):
    assert version_of(raw) == version
