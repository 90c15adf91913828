"""The sample client: deterministic per day, the exact v1.4 shape, the API's quirks, and fast."""

import hashlib
import logging
import uuid
from collections import Counter
from datetime import date, datetime

import pytest

from orchestration.resources.randomuser import (
    NATIONALITIES,
    RandomUserResource,
    SampleRandomUserClient,
    UserCall,
    day_seed,
    parse_users_page,
)

DAY = date(2026, 11, 20)
SEED = day_seed(DAY)
V14_KEYS = {
    "": {"gender", "name", "location", "email", "login", "dob", "registered", "phone", "cell", "id", "picture", "nat"},
    "name": {"title", "first", "last"},
    "location": {"street", "city", "state", "country", "postcode", "coordinates", "timezone"},
    "street": {"number", "name"},
    "coordinates": {"latitude", "longitude"},
    "timezone": {"offset", "description"},
    "login": {"uuid", "username", "password", "salt", "md5", "sha1", "sha256"},
    "dob": {"date", "age"},
    "registered": {"date", "age"},
    "id": {"name", "value"},
    "picture": {"large", "medium", "thumbnail"},
}


@pytest.fixture(scope="module")
def users():
    return SampleRandomUserClient().fetch_page(SEED, UserCall(1, 5000))


def test_same_day_gives_identical_users_from_fresh_clients():
    first = list(RandomUserResource(users_per_day=6000).fetch_users(DAY))
    again = list(RandomUserResource(users_per_day=6000).fetch_users(DAY))
    assert first == again and len(first) == 6000
    assert len({user["login"]["uuid"] for user in first}) == 6000


def test_different_days_give_different_users():
    today = RandomUserResource(users_per_day=500).fetch_users(DAY)
    tomorrow = RandomUserResource(users_per_day=500).fetch_users(date(2026, 11, 21))
    assert all(a["login"]["uuid"] != b["login"]["uuid"] for a, b in zip(today, tomorrow, strict=False))


def test_a_short_page_is_a_prefix_of_the_full_one_like_the_api(users):
    assert SampleRandomUserClient().fetch_page(SEED, UserCall(1, 2000)) == users[:2000]
    assert SampleRandomUserClient().fetch_page(SEED, UserCall(2, 10))[0] != users[0]


def test_exact_v14_shape_and_round_trip_through_the_parser(users):
    for user in users:
        assert set(user) == V14_KEYS[""]
        for key in ("name", "location", "login", "dob", "registered", "id", "picture"):
            assert set(user[key]) == V14_KEYS[key], key
        for key in ("street", "coordinates", "timezone"):
            assert set(user["location"][key]) == V14_KEYS[key], key
    assert (
        parse_users_page(
            {"results": users, "info": {"seed": SEED, "page": 1, "version": "1.4"}}, UserCall(1, 5000), SEED
        ).results
        == users
    )


def test_values_look_like_the_api(users):
    for user in users:
        login = user["login"]
        assert uuid.UUID(login["uuid"]).version == 4 and login["uuid"] == login["uuid"].lower()
        secret = (login["password"] + login["salt"]).encode()
        assert login["md5"] == hashlib.md5(secret).hexdigest() and len(login["md5"]) == 32
        assert login["sha1"] == hashlib.sha1(secret).hexdigest() and len(login["sha1"]) == 40
        assert login["sha256"] == hashlib.sha256(secret).hexdigest() and len(login["sha256"]) == 64
        coordinates = user["location"]["coordinates"]
        assert isinstance(coordinates["latitude"], str) and -90 <= float(coordinates["latitude"]) <= 90
        assert isinstance(coordinates["longitude"], str) and -180 <= float(coordinates["longitude"]) <= 180
        assert isinstance(user["location"]["street"]["number"], int)
        assert user["gender"] in ("male", "female") and user["email"].endswith("@example.com")
        assert user["picture"]["large"].startswith("https://randomuser.me/api/portraits/")
        assert user["location"]["country"] == NATIONALITIES[user["nat"]].split("|")[0]


def test_dates_and_ages_are_relative_to_the_day(users):
    today = datetime(2026, 11, 20)
    for user in users:
        for key, oldest, youngest in (("dob", 1945, 21), ("registered", 2002, 0)):
            born = datetime.strptime(user[key]["date"], "%Y-%m-%dT%H:%M:%S.%fZ")
            assert len(user[key]["date"]) == 24 and oldest <= born.year and born <= today
            age = DAY.year - born.year - ((DAY.month, DAY.day) < (born.month, born.day))
            assert user[key]["age"] == age >= youngest


def test_postcodes_are_ints_or_strings_by_country_as_in_the_api(users):
    kinds = {}
    for user in users:
        kinds.setdefault(user["nat"], set()).add(type(user["location"]["postcode"]))
    assert kinds["US"] == kinds["DE"] == kinds["AU"] == {int}
    assert kinds["NO"] == kinds["CA"] == kinds["GB"] == kinds["NL"] == {str}
    norway = [user["location"]["postcode"] for user in users if user["nat"] == "NO"]
    assert all(len(code) == 4 and code.isdigit() for code in norway)
    assert any(code.startswith("0") for code in norway)  # the leading zero a number would lose
    canada = next(user["location"]["postcode"] for user in users if user["nat"] == "CA")
    assert len(canada) == 7 and canada[3] == " "


def test_id_value_is_null_for_some_nationalities(users):
    by_nat = {}
    for user in users:
        by_nat.setdefault(user["nat"], set()).add(user["id"]["value"] is None)
    assert {nat for nat, nulls in by_nat.items() if nulls == {True}} == {"IR", "NZ", "TR", "UA"}
    assert all(nulls == {False} for nat, nulls in by_nat.items() if nat not in {"IR", "NZ", "TR", "UA"})
    assert {user["id"]["name"] for user in users if user["id"]["value"] is None} == {""}


def test_names_are_not_ascii_and_timezones_not_whole_hours(users):
    names = {user["name"]["first"] for user in users} | {user["name"]["last"] for user in users}
    assert {"Åse", "Müller", "Çelik", "Nørgaard"} <= names
    assert any("\u0600" <= name[0] <= "\u06ff" for name in names)  # Persian
    assert any("\u0400" <= name[0] <= "\u04ff" for name in names)  # Cyrillic
    assert all(user["email"].isascii() for user in users if user["nat"] in ("IR", "UA"))
    offsets = {user["location"]["timezone"]["offset"] for user in users}
    assert {"+5:45", "-3:30", "0:00", "+12:00", "-12:00"} <= offsets


def test_all_21_nationalities_unless_filtered(users):
    assert set(Counter(user["nat"] for user in users)) == set(NATIONALITIES) and len(NATIONALITIES) == 21
    filtered = SampleRandomUserClient(nationalities=["no", "TR"]).fetch_page(SEED, UserCall(1, 200))
    assert {user["nat"] for user in filtered} == {"NO", "TR"}
    with pytest.raises(ValueError, match="unknown nationalities"):
        SampleRandomUserClient(nationalities=["XX"])


def test_no_bad_users_by_default(users):
    assert all("dob" in user for user in users)
    assert all(uuid.UUID(user["login"]["uuid"]) for user in users)


def test_bad_users_at_about_the_configured_ratio(users):
    bad = SampleRandomUserClient(bad_row_ratio=0.1).fetch_page(SEED, UserCall(1, 5000))
    missing_dob = sum("dob" not in user for user in bad)
    invalid_uuid = sum(user["login"]["uuid"].endswith("not-a-uuid") for user in bad)
    assert 180 < missing_dob < 320 and 180 < invalid_uuid < 320
    # The ratio spoils users in place; every other user is the same as without it.
    same = sum(a == b for a, b in zip(bad, users, strict=False))
    assert same == 5000 - missing_dob - invalid_uuid


def test_100k_users_come_whole():
    # How fast is `make bench SIZE=M`'s question (its users pull, 100k users), not a test's.
    count = sum(1 for _ in RandomUserResource(users_per_day=100_000).fetch_users(DAY))
    assert count == 100_000


def test_resource_sample_mode_says_so_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        got = list(RandomUserResource(users_per_day=3, nationalities=["NO"]).fetch_users(DAY))
    assert "SAMPLE mode" in caplog.text
    assert [user["nat"] for user in got] == ["NO"] * 3
