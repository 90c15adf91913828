import copy
import json

import pytest

from orchestration.resources.kafka import Record, contract_for, contracts, decode, schema_version

MEASUREMENT = {
    "location_id": 2178,
    "sensor_id": 3917,
    "fetched_at": "2026-11-21T00:05:00Z",
    "measurement": {
        "value": 12.3,
        "flagInfo": {"hasFlags": False},
        "parameter": {"id": 2, "name": "pm25", "units": "µg/m³", "displayName": None},
        "period": {
            "label": "raw",
            "interval": "01:00:00",
            "datetimeFrom": {"utc": "2026-11-20T00:00:00Z", "local": "2026-11-20T01:00:00+01:00"},
            "datetimeTo": {"utc": "2026-11-20T01:00:00Z", "local": "2026-11-20T02:00:00+01:00"},
        },
        "coordinates": None,
        "summary": None,
        "coverage": {"expectedCount": 1, "observedCount": 1, "percentComplete": 100.0},
    },
}

USER = {
    "fetched_at": "2026-11-21T00:05:00.123456+00:00",
    "user": {
        "gender": "female",
        "name": {"title": "Ms", "first": "Ana", "last": "Lima"},
        "location": {
            "street": {"number": 4021, "name": "Rua Dois"},
            "city": "Uberaba",
            "state": "Minas Gerais",
            "country": "Brazil",
            "postcode": 36518,
            "coordinates": {"latitude": "-41.1431", "longitude": "-44.5806"},
            "timezone": {"offset": "-3:00", "description": "Brazil, Buenos Aires, Georgetown"},
        },
        "email": "ana.lima@example.com",
        "login": {
            "uuid": "155e77ee-ba6d-486f-95ce-0e0c0fb4b919",
            "username": "silverswan131",
        },
        "dob": {"date": "1993-07-20T09:44:18.674Z", "age": 33},
        "registered": {"date": "2002-05-21T10:59:49.966Z", "age": 24},
        "phone": "(44) 6513-4561",
        "cell": "(61) 7474-8124",
        "id": {"name": "CPF", "value": "517.592.144-30"},
        "picture": {
            "large": "https://randomuser.me/api/portraits/women/1.jpg",
            "medium": "https://randomuser.me/api/portraits/med/women/1.jpg",
            "thumbnail": "https://randomuser.me/api/portraits/thumb/women/1.jpg",
        },
        "nat": "BR",
    },
}


def changed(document: dict, path: str, new=..., drop=False) -> dict:
    """A deep copy of `document` with the dotted `path` set to `new`, or removed."""
    result = copy.deepcopy(document)
    *parents, leaf = path.split(".")
    node = result
    for part in parents:
        node = node[part]
    if drop:
        del node[leaf]
    else:
        node[leaf] = new
    return result


def test_every_topic_has_a_versioned_contract():
    assert set(contracts()) == {"openaq.measurements", "randomuser.users", "ads.events"}
    assert schema_version("ads.events") == "1"
    assert schema_version("openaq.measurements") == "1"
    assert schema_version("randomuser.users") == "2"  # v2: credentials may not be published
    assert contract_for("randomuser.users").schema["$schema"].endswith("2020-12/schema")
    with pytest.raises(KeyError, match="no contract"):
        contract_for("unknown.topic")


@pytest.mark.parametrize(
    "value",
    [
        MEASUREMENT,
        changed(MEASUREMENT, "measurement.value", None),  # API quirks pass: Spark quarantines them
        changed(MEASUREMENT, "measurement.value", "12.3"),
        changed(MEASUREMENT, "measurement.period", drop=True),
        changed(MEASUREMENT, "measurement.somethingNew", {"x": 1}),
        changed(MEASUREMENT, "fetched_at", "2026-11-21T00:05:00.123456+00:00"),
    ],
)
def test_measurement_contract_accepts_api_quirks(value):
    assert contract_for("openaq.measurements").error(value) is None


@pytest.mark.parametrize(
    "value, where",
    [
        (changed(MEASUREMENT, "sensor_id", drop=True), "'sensor_id' is a required property at $"),
        (changed(MEASUREMENT, "sensor_id", "3917"), "at $.sensor_id"),
        (changed(MEASUREMENT, "measurement", None), "at $.measurement"),
        (changed(MEASUREMENT, "fetched_at", "21/11/2026"), "at $.fetched_at"),
        (changed(MEASUREMENT, "extra", 1), "Additional properties"),
        ([MEASUREMENT], "is not of type 'object' at $"),
    ],
)
def test_measurement_contract_enforces_the_envelope(value, where):
    reason = contract_for("openaq.measurements").error(value)
    assert reason is not None and reason.startswith("schema: ") and where in reason


@pytest.mark.parametrize(
    "value",
    [
        USER,
        changed(USER, "user.location.postcode", "EC1A 1BB"),  # GB/CA postcodes are strings
        changed(USER, "user.id.value", None),  # some nationalities have no id value
    ],
)
def test_user_contract_accepts_randomuser_variants(value):
    assert contract_for("randomuser.users").error(value) is None


@pytest.mark.parametrize(
    "value, where",
    [
        (changed(USER, "user.login.uuid", "not-a-uuid"), "at $.user.login.uuid"),
        (changed(USER, "user.login.uuid", drop=True), "'uuid' is a required property at $.user.login"),
        (changed(USER, "user.dob.date", drop=True), "at $.user.dob"),
        (changed(USER, "user.registered", drop=True), "'registered' is a required property at $.user"),
        (changed(USER, "user.location.coordinates.latitude", -41.1), "at $.user.location.coordinates"),
        (changed(USER, "user.login.password", "gator"), "at $.user.login"),
        (changed(USER, "user.login.salt", "ptNDb0sF"), "at $.user.login"),
        (changed(USER, "user.login.md5", "b7f1e2a2"), "at $.user.login"),
        (changed(USER, "user.login.sha1", "f1e2"), "at $.user.login"),
        (changed(USER, "user.login.sha256", "a1b2"), "at $.user.login"),
    ],
)
def test_user_contract_rejects(value, where):
    reason = contract_for("randomuser.users").error(value)
    assert reason is not None and where in reason


def record(value: bytes | None) -> Record:
    return Record("openaq.measurements", 0, 7, "3917", value, {}, 0)


def test_decode_returns_the_value_of_a_conforming_record():
    raw = json.dumps(MEASUREMENT, ensure_ascii=False).encode("utf-8")
    assert decode(record(raw), contract_for("openaq.measurements")) == (MEASUREMENT, None)
    # A plain schema mapping works as the contract too.
    assert decode(record(raw), contract_for("openaq.measurements").schema) == (MEASUREMENT, None)


def test_decode_strips_the_schema_registry_framing():
    framed = b"\x00\x00\x00\x00\x01" + json.dumps(MEASUREMENT).encode()
    assert decode(record(framed), contract_for("openaq.measurements")) == (MEASUREMENT, None)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON: "),
        (b"", "not JSON: "),
        (None, "empty value"),
        (json.dumps({"sensor_id": 1}).encode(), "schema: "),
    ],
)
def test_decode_gives_a_reason_for_a_bad_record(raw, reason):
    value, why = decode(record(raw), contract_for("openaq.measurements"))
    assert value is None and why.startswith(reason)


def test_the_compiled_check_ignores_formats_but_not_properties_named_format():
    """The verdicts above come from the compiled check (the reference validator only words the
    reason); it must not assert `format`, which the reference validator does not either, and
    must still check a property that happens to be called "format"."""
    from assets.core.contracts import Contract

    contract = Contract("t", 1, {"properties": {"format": {"type": "string", "format": "uuid"}}, "format": "uuid"})
    for value, valid in (({"format": "not-a-uuid"}, True), ({"format": 7}, False), ("x", True)):
        assert contract.is_valid(value) is valid, value
        assert contract.validator.is_valid(value) is valid, value  # the same verdict as the reference


AD_EVENT = {
    "event_id": "E-20261120-000042",
    "campaign_id": "C001",
    "event_type": "conversion",
    "ts": "2026-11-20T10:00:00.000Z",
    "cost": 0,
    "revenue": 76.5,
    "order_id": "O-20261120-00075",
}


@pytest.mark.parametrize(
    "value",
    [
        AD_EVENT,
        # Meanings are the clean step's rules: these pass and are quarantined there, with a reason.
        changed(AD_EVENT, "campaign_id", None),
        changed(AD_EVENT, "campaign_id", drop=True),
        changed(AD_EVENT, "event_type", "view"),
        changed(AD_EVENT, "ts", "2026-11-20 25:61"),
        changed(AD_EVENT, "cost", -0.45),
        changed(AD_EVENT, "order_id", drop=True),
    ],
)
def test_ad_event_contract_checks_shapes_not_meanings(value):
    assert contract_for("ads.events").error(value) is None


@pytest.mark.parametrize(
    "value, where",
    [
        (changed(AD_EVENT, "event_id", drop=True), "'event_id' is a required property"),
        (changed(AD_EVENT, "event_id", ""), "at $.event_id"),
        (changed(AD_EVENT, "cost", "0.45"), "at $.cost"),
        (changed(AD_EVENT, "revenue", drop=True), "'revenue' is a required property"),
        (changed(AD_EVENT, "unparseable_line", "{oops"), "Additional properties"),
    ],
)
def test_ad_event_contract_rejects(value, where):
    reason = contract_for("ads.events").error(value)
    assert reason is not None and reason.startswith("schema: ") and where in reason
