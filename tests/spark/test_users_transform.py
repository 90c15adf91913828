"""The users transforms on their real output: one raw Kafka message per API quirk or fault."""

import hashlib
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.testing import assertDataFrameEqual

from assets.landing.decode import LANDED
from spark.schemas.clean_users import CLEAN_USERS
from spark.transforms.users import (
    CLEAN_COLUMNS,
    QUARANTINE_COLUMNS,
    clean_users,
    flag_users,
    quarantined_users,
)

DAY = date(2026, 11, 20)
INGESTED = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
# The columns of the raw zone's contract the users step reads.
RAW_ARROW = pa.schema(
    [LANDED.field(name) for name in ("payload", "kafka_topic", "kafka_partition", "kafka_offset", "ingested_at")]
)
SECRETS = []  # every credential value written into the raw rows
DROP = object()  # a field value that deletes the field


def uuid_of(n):
    return f"6f1c2a3b-4d5e-4f60-8a7b-{n:012d}"


def user(n, nat="US", postcode=12345, first="Dwayne", last="Stewart", id_value="409-41-4268", **over):
    password, salt = f"pw-secret-{n}", f"SALT{n:04d}"
    hashed = (password + salt).encode()
    login = {
        "uuid": uuid_of(n),
        "username": f"bluebird{n:03d}",
        "password": password,
        "salt": salt,
        "md5": hashlib.md5(hashed).hexdigest(),
        "sha1": hashlib.sha1(hashed).hexdigest(),
        "sha256": hashlib.sha256(hashed).hexdigest(),
    }
    SECRETS.extend(login[key] for key in ("password", "salt", "md5", "sha1", "sha256"))
    doc = {
        "gender": "male",
        "name": {"title": "Mr", "first": first, "last": last},
        "location": {
            "street": {"number": 7541, "name": "Valley View Ln"},
            "city": "Fresno",
            "state": "California",
            "country": "United States",
            "postcode": postcode,
            "coordinates": {"latitude": "-69.8246", "longitude": "134.8719"},
            "timezone": {"offset": "-3:30", "description": "Newfoundland"},
        },
        "email": f"{first}.{last}@example.com".lower(),
        "login": login,
        "dob": {"date": "1993-07-20T09:44:18.674Z", "age": 33},
        "registered": {"date": "2012-03-04T05:06:07.089Z", "age": 14},
        "phone": "(502)-378-3840",
        "cell": "(284)-081-8384",
        "id": {"name": "SSN", "value": id_value},
        "picture": {
            "large": f"https://randomuser.me/api/portraits/men/{n}.jpg",
            "medium": f"https://randomuser.me/api/portraits/med/men/{n}.jpg",
            "thumbnail": f"https://randomuser.me/api/portraits/thumb/men/{n}.jpg",
        },
        "nat": nat,
    }
    for path, value in over.items():  # "location.coordinates.latitude"="n/a"; value DROP deletes
        *parents, key = path.split(".")
        target = doc
        for parent in parents:
            target = target[parent]
        if value is DROP:
            del target[key]
        else:
            target[key] = value
    return doc


def message(doc, fetched_at="2026-11-20T05:59:58.123Z"):
    return json.dumps({"fetched_at": fetched_at, "user": doc}, ensure_ascii=False)


NORWAY = user(2, "NO", "0376", "Åse", "Nørgaard", "12345678901", **{"location.timezone.offset": "+5:45"})
IRAN = user(
    3,
    "IR",
    4821,
    "محمدطاها",
    "یاسمی",
    None,
    **{
        "id.name": "",
        "location.timezone.offset": "0:00",
        "location.street.number": "42",
        "email": "mhmdth.ysmy@example.com",
    },
)
CANADA = user(4, "CA", "T5N 2X5", "Léa", "Gagnon", **{"location.coordinates": None, "login.uuid": uuid_of(4).upper()})
FIRST_SEEN = user(1)
RESENT = user(1, **{"email": "dwayne.new@example.com"})
NORWAY_AGAIN = user(
    2, "NO", "0376", "Åse", "Nørgaard", "12345678901", **{"location.timezone.offset": "+5:45", "phone": "22334455"}
)

# (payload, partition, offset, ingested_at, expected reason)
CASES = [
    (message(FIRST_SEEN), 0, 10, INGESTED, None),
    (message(RESENT), 1, 3, LATER, None),  # a later ingest wins, whatever its offset
    (message(NORWAY), 0, 11, INGESTED, None),
    (message(NORWAY_AGAIN), 0, 12, INGESTED, None),  # same ingest time: the higher offset wins
    (message(IRAN), 0, 13, INGESTED, None),
    (message(CANADA), 0, 14, INGESTED, None),
    (
        '{"fetched_at": "2026-11-20T05:59:58Z", "user": {"login": {"uuid": "x", "password": "pw-secret-trunc',
        0,
        20,
        INGESTED,
        "unparseable_payload",
    ),
    (None, 0, 21, INGESTED, "unparseable_payload"),
    ('{"fetched_at": "2026-11-20T05:59:58Z"}', 0, 22, INGESTED, "unparseable_payload"),
    (message(user(23, **{"name": "Bob"})), 0, 23, INGESTED, "unparseable_payload"),
    (message(user(24, **{"login.uuid": DROP})), 0, 24, INGESTED, "missing_user_id"),
    (message(user(25, **{"login.uuid": " "})), 0, 25, INGESTED, "missing_user_id"),
    (message(user(26, **{"login.uuid": "6f1c2a3b-4d5e-4f60-not-a-uuid"})), 0, 26, INGESTED, "invalid_user_id"),
    (message(user(27, **{"dob": DROP})), 0, 27, INGESTED, "missing_dob"),
    (message(user(28, **{"dob.date": "1993-13-45T00:00:00.000Z"})), 0, 28, INGESTED, "invalid_dob"),
    (message(user(29, **{"registered.date": "yesterday"})), 0, 29, INGESTED, "invalid_registered"),
    (message(user(30, **{"location.coordinates.latitude": "n/a"})), 0, 30, INGESTED, "invalid_coordinates"),
    (message(user(31, **{"location.coordinates.longitude": "-190.5"})), 0, 31, INGESTED, "invalid_coordinates"),
    (message(user(32, **{"location.street.number": "12a"})), 0, 32, INGESTED, "invalid_street_number"),
    (message(user(33, **{"email": None})), 0, 33, INGESTED, "missing_email"),
    # The day pulled again: the same faulty user is quarantined once, not twice.
    (
        message(user(30, **{"location.coordinates.latitude": "n/a"}), "2026-11-20T07:00:00Z"),
        2,
        30,
        LATER,
        "invalid_coordinates",
    ),
]
SECRETS.append("pw-secret-trunc")


@pytest.fixture(scope="module")
def raw(spark, tmp_path_factory):
    columns = list(
        zip(*[(payload, "randomuser.users", part, offset, at) for payload, part, offset, at, _ in CASES], strict=False)
    )
    path = tmp_path_factory.mktemp("raw_users") / "part-0.parquet"
    pq.write_table(
        pa.Table.from_arrays(
            [pa.array(c, t) for c, t in zip(columns, RAW_ARROW.types, strict=False)], schema=RAW_ARROW
        ),
        path,
    )
    return spark.read.parquet(str(path))


@pytest.fixture(scope="module")
def flagged(raw):
    return flag_users(raw, DAY).cache()


def test_every_row_gets_its_reason_and_lands_in_exactly_one_output(raw, flagged):
    got = {
        (r.kafka_partition, r.kafka_offset): r.reason
        for r in flagged.select("kafka_partition", "kafka_offset", "reason").collect()
    }
    assert got == {(part, offset): reason for _, part, offset, _, reason in CASES}
    clean, quarantined = clean_users(flagged).count(), quarantined_users(flagged, DAY).count()
    duplicates = 3  # two clean users sent twice, one faulty user pulled twice
    assert clean + quarantined + duplicates == raw.count()


def test_clean_users_are_typed_and_deduplicated(spark, flagged):
    clean = clean_users(flagged)
    us = dict(
        gender="male",
        title="Mr",
        dob_utc=datetime(1993, 7, 20, 9, 44, 18, 674000),
        registered_utc=datetime(2012, 3, 4, 5, 6, 7, 89000),
        cell="(284)-081-8384",
        street_name="Valley View Ln",
        city="Fresno",
        state="California",
        country="United States",
        latitude=-69.8246,
        longitude=134.8719,
        timezone_description="Newfoundland",
        ingested_on=DAY,
    )

    def row(n, **values):
        base = {
            **us,
            "user_id": uuid_of(n),
            "username": f"bluebird{n:03d}",
            "id_name": "SSN",
            "street_number": 7541,
            "timezone_offset": "-3:30",
            "phone": "(502)-378-3840",
            "ingested_at": datetime(2026, 11, 20, 6),
            "picture_large": f"https://randomuser.me/api/portraits/men/{n}.jpg",
            "picture_medium": f"https://randomuser.me/api/portraits/med/men/{n}.jpg",
            "picture_thumbnail": f"https://randomuser.me/api/portraits/thumb/men/{n}.jpg",
            **values,
        }
        return tuple(base[column] for column in CLEAN_COLUMNS)

    expected = spark.createDataFrame(
        [
            row(
                1,
                first_name="Dwayne",
                last_name="Stewart",
                email="dwayne.new@example.com",
                nationality="US",
                postcode="12345",
                id_value="409-41-4268",
                ingested_at=datetime(2026, 11, 20, 7, 30),
            ),
            row(
                2,
                first_name="Åse",
                last_name="Nørgaard",
                email="åse.nørgaard@example.com",
                nationality="NO",
                postcode="0376",
                id_value="12345678901",
                timezone_offset="+5:45",
                phone="22334455",
            ),
            row(
                3,
                first_name="محمدطاها",
                last_name="یاسمی",
                email="mhmdth.ysmy@example.com",
                nationality="IR",
                postcode="4821",
                id_name="",
                id_value=None,
                timezone_offset="0:00",
                street_number=42,
            ),
            row(
                4,
                first_name="Léa",
                last_name="Gagnon",
                email="léa.gagnon@example.com",
                nationality="CA",
                postcode="T5N 2X5",
                id_value="409-41-4268",
                latitude=None,
                longitude=None,
            ),
        ],
        "user_id string, gender string, title string, first_name string, last_name string, email string,"
        " username string, dob_utc timestamp_ntz, registered_utc timestamp_ntz, phone string, cell string,"
        " nationality string, street_number long, street_name string, city string, state string, country string,"
        " postcode string, latitude double, longitude double, timezone_offset string, timezone_description string,"
        " id_name string, id_value string, picture_large string, picture_medium string, picture_thumbnail string,"
        " ingested_on date, ingested_at timestamp_ntz",
    )
    assert clean.columns == CLEAN_COLUMNS
    # The clean table's contract, which the catalogue shows: names, order and Spark types.
    assert clean.dtypes == [(c.name, c.type) for c in CLEAN_USERS]
    assertDataFrameEqual(clean, expected)  # schema included: types are part of the contract


def test_quarantine_keeps_the_payload_and_the_kafka_coordinates(flagged):
    quarantined = quarantined_users(flagged, DAY)
    assert quarantined.columns == QUARANTINE_COLUMNS
    rows = {r.kafka_offset: r for r in quarantined.collect()}
    assert set(rows) == {offset for _, _, offset, _, reason in CASES if reason}
    assert rows[21].payload is None
    assert rows[22].payload == '{"fetched_at": "2026-11-20T05:59:58Z"}'  # nothing to redact: untouched
    assert json.loads(rows[26].payload)["user"]["login"]["uuid"] == "6f1c2a3b-4d5e-4f60-not-a-uuid"
    assert {(r.kafka_topic, r.kafka_partition, r.partition_day, r.ingested_at) for r in rows.values()} == {
        ("randomuser.users", 0, DAY, datetime(2026, 11, 20, 6))
    }


def test_quarantined_payload_is_the_message_with_credentials_redacted(flagged):
    rows = {r.kafka_offset: r.payload for r in quarantined_users(flagged, DAY).collect()}
    expected = json.loads(next(payload for payload, _, offset, _, _ in CASES if offset == 30))
    expected["user"]["login"].update(dict.fromkeys(["password", "salt", "md5", "sha1", "sha256"], "[redacted]"))
    assert json.loads(rows[30]) == expected
    assert rows[20].endswith('"password": "[redacted]"')  # even in a payload cut off mid-value


def test_no_credential_reaches_either_output(flagged):
    outputs = [clean_users(flagged), quarantined_users(flagged, DAY)]
    text = "\n".join(str(value) for frame in outputs for row in frame.collect() for value in row)
    assert len(set(SECRETS)) > 50
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == []
    assert not {"password", "salt", "md5", "sha1", "sha256", "age"} & set(clean_users(flagged).columns)


def test_sample_users_pass_with_only_their_planted_faults(tmp_path, spark):
    from orchestration.resources.randomuser import SampleRandomUserClient, UserCall

    users = SampleRandomUserClient(bad_row_ratio=0.05).fetch_page("airstream-2026-11-20", UserCall(1, 2000))
    payloads = [message(doc) for doc in users]
    arrays = [payloads, ["randomuser.users"] * 2000, [0] * 2000, list(range(2000)), [INGESTED] * 2000]
    pq.write_table(
        pa.Table.from_arrays([pa.array(a, t) for a, t in zip(arrays, RAW_ARROW.types, strict=False)], schema=RAW_ARROW),
        tmp_path / "part-0.parquet",
    )
    flagged = flag_users(spark.read.parquet(str(tmp_path)), DAY)

    reasons = {r.reason: r["count"] for r in flagged.groupBy("reason").count().collect()}
    planted = {
        "missing_dob": sum("dob" not in doc for doc in users),
        "invalid_user_id": sum(doc["login"]["uuid"].endswith("not-a-uuid") for doc in users),
    }
    assert reasons == {None: 2000 - sum(planted.values()), **planted} and min(planted.values()) > 0
    postcodes = {(r.nationality, r.postcode) for r in clean_users(flagged).select("nationality", "postcode").collect()}
    expected = {
        (doc["nat"], str(doc["location"]["postcode"]))
        for doc in users
        if "dob" in doc and not doc["login"]["uuid"].endswith("not-a-uuid")
    }
    assert postcodes == expected
    assert any(nat == "NO" and code.startswith("0") for nat, code in postcodes)
