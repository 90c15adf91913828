"""The pure parts of the API: SQL of a page, cursors, limits, cache keys."""

from datetime import date

import pytest

from orchestration.serving import queries
from orchestration.serving.cache import cache_key

AQ = queries.AIR_QUALITY_DAILY


def test_values_travel_as_parameters_never_in_the_sql():
    hostile = "pm25'; drop table marts.dim_locations; --"
    sql, params = queries.page_sql(
        AQ,
        {"parameter": hostile, "date_from": date(2026, 11, 20), "country": None},
        [date(2026, 11, 20), 7, 2],
        50,
        "?",
    )
    assert hostile not in sql and "2026" not in sql
    assert params == [hostile, date(2026, 11, 20), date(2026, 11, 20), 7, 2]
    assert sql.endswith(
        "where a.parameter_name = ? and a.measured_on >= ? and (a.measured_on, a.location_id, a.parameter_id)"
        " > (?, ?, ?) order by a.measured_on, a.location_id, a.parameter_id limit 51"
    )


def test_a_page_of_limit_plus_one_rows_has_a_cursor_to_its_last_item():
    rows = [{"measured_on": date(2026, 11, 20), "location_id": i, "parameter_id": 2} for i in range(4)]
    body = queries.page(AQ, rows, 3)
    assert body["items"] == rows[:3]
    assert queries.decode_cursor(AQ, body["next_cursor"]) == [date(2026, 11, 20), 2, 2]
    assert queries.page(AQ, rows[:3], 3)["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "WzFd", "eyJhIjoxfQ==", "WyJub3QtYS1kYXRlIiwxLDJd", "WyIyMDI2LTExLTIwIiwidHdvIiwyXQ=="]
)
def test_a_cursor_we_did_not_issue_is_a_bad_request(cursor):
    with pytest.raises(queries.BadRequest, match="cursor: not a cursor this endpoint returned"):
        queries.decode_cursor(AQ, cursor)


@pytest.mark.parametrize("limit", [0, -1, queries.MAX_LIMIT + 1])
def test_limit_is_bounded(limit):
    with pytest.raises(queries.BadRequest, match="limit: must be between 1 and 1000"):
        queries.check_limit(limit)


def test_cache_keys_change_with_the_marts_version_and_not_with_parameter_order():
    a = cache_key("x", "v1", {"country": "DE", "limit": 10})
    assert a == cache_key("x", "v1", {"limit": 10, "country": "DE"})
    assert a != cache_key("x", "v2", {"country": "DE", "limit": 10})
    assert a != cache_key("x", "v1", {"country": "FR", "limit": 10})
