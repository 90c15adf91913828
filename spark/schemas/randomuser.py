"""Spark schemas for randomuser.me v1.4 users as they arrive in the raw zone.

A raw row is one Kafka message: the payload `{"fetched_at": ISO, "user": {...}}` kept as the
JSON text received, plus its Kafka coordinates. The schema is applied in the clean step.

Every leaf is read as text on purpose. A field of the wrong JSON type makes Spark's reader
give up on the whole record, so typing here would turn one odd street number into an
"unparseable" user; text keeps the record and the clean step casts with try_ functions and
names the field that failed. It also keeps postcodes whole: the API sends a JSON number for
some countries and a string for others (Norway's "0376"), and a number read as text is its
decimal digits. Credentials (login.password, salt, md5, sha1, sha256) and the API's
request-time ages are left out, so they never reach a DataFrame column.
"""

from pyspark.sql import types as T

CORRUPT_RECORD = "_corrupt_record"


def _texts(*names: str) -> T.StructType:
    return T.StructType([T.StructField(name, T.StringType()) for name in names])


USER = T.StructType(
    [
        T.StructField("gender", T.StringType()),
        T.StructField("name", _texts("title", "first", "last")),
        T.StructField(
            "location",
            T.StructType(
                [
                    T.StructField("street", _texts("number", "name")),
                    T.StructField("city", T.StringType()),
                    T.StructField("state", T.StringType()),
                    T.StructField("country", T.StringType()),
                    T.StructField("postcode", T.StringType()),
                    T.StructField("coordinates", _texts("latitude", "longitude")),
                    T.StructField("timezone", _texts("offset", "description")),
                ]
            ),
        ),
        T.StructField("email", T.StringType()),
        T.StructField("login", _texts("uuid", "username")),
        T.StructField("dob", _texts("date")),
        T.StructField("registered", _texts("date")),
        T.StructField("phone", T.StringType()),
        T.StructField("cell", T.StringType()),
        T.StructField("id", _texts("name", "value")),
        T.StructField("picture", _texts("large", "medium", "thumbnail")),
        T.StructField("nat", T.StringType()),
    ]
)

USER_MESSAGE = T.StructType(
    [
        T.StructField("fetched_at", T.StringType()),
        T.StructField("user", USER),
        T.StructField(CORRUPT_RECORD, T.StringType()),
    ]
)
