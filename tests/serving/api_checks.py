"""What both warehouse tests assert: every endpoint pages through exactly the marts' rows.

The expected rows come from SQL written here, independently of `queries.page_sql`, run on the
marts with the database's own client; the API's answers are compared after a JSON round trip.
"""

import json
from datetime import date

EXPECTED = {
    "/v1/air-quality/daily": (
        "select a.measured_on, a.location_id, a.parameter_id, a.parameter_name, a.units, l.country_code,"
        " a.min_value, a.mean_value, a.max_value, a.measurement_count, a.exceeds_who_pm25_guideline"
        " from marts.agg_air_quality_daily a left join marts.dim_locations l using (location_id)"
        " order by a.measured_on, a.location_id, a.parameter_id"
    ),
    "/v1/locations": (
        "select location_id, location_name, locality, timezone, country_code, country_name, provider_name,"
        " is_mobile, is_monitor, latitude, longitude from marts.dim_locations order by location_id"
    ),
    "/v1/users/by-country/daily": (
        "select ingested_on, country, user_count, female_count, male_count, other_gender_count,"
        " age_under_18, age_18_29, age_30_44, age_45_64, age_65_plus"
        " from marts.users_by_country_daily order by ingested_on, country"
    ),
}


def as_json(rows: list[dict]) -> list[dict]:
    return json.loads(json.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, date) else str(v)))


def all_pages(client, path: str, limit: int, **params) -> tuple[list[dict], int]:
    items, pages, cursor = [], 0, None
    while True:
        response = client.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def check_every_endpoint(client, query) -> None:
    """`query(sql)` returns the marts' rows as dicts."""
    for path, sql in EXPECTED.items():
        expected = as_json(query(sql))
        assert len(expected) > 3, path
        items, pages = all_pages(client, path, limit=3)
        assert items == expected, path
        assert pages == -(-len(expected) // 3), path  # the extra row read says when to stop


def check_filters(client, query) -> None:
    rows = as_json(query(EXPECTED["/v1/air-quality/daily"]))
    first = rows[len(rows) // 2]
    for params, keep in [
        ({"location_id": first["location_id"]}, lambda r: r["location_id"] == first["location_id"]),
        ({"parameter": first["parameter_name"]}, lambda r: r["parameter_name"] == first["parameter_name"]),
        ({"country": first["country_code"]}, lambda r: r["country_code"] == first["country_code"]),
        (
            {"date_from": first["measured_on"], "date_to": first["measured_on"]},
            lambda r: r["measured_on"] == first["measured_on"],
        ),
        ({"date_from": "2000-01-01", "date_to": "2000-01-02"}, lambda r: False),
    ]:
        items, _ = all_pages(client, "/v1/air-quality/daily", limit=50, **params)
        assert items == [r for r in rows if keep(r)], params
