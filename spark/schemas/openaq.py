"""Spark schemas for OpenAQ v3 documents as they arrive in the raw zone.

Raw rows keep each API object as a JSON string (``payload``) so the raw zone holds exactly
what the API sent; these schemas are applied in the clean step, where a document that does
not fit is quarantined instead of breaking the read.
"""

from pyspark.sql import types as T

CORRUPT_RECORD = "_corrupt_record"

_UTC_LOCAL = T.StructType([T.StructField("utc", T.StringType()), T.StructField("local", T.StringType())])
_COORDINATES = T.StructType([T.StructField("latitude", T.DoubleType()), T.StructField("longitude", T.DoubleType())])
_PARAMETER = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("name", T.StringType()),
        T.StructField("units", T.StringType()),
        T.StructField("displayName", T.StringType()),
    ]
)
_NAMED = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("code", T.StringType()),
        T.StructField("name", T.StringType()),
    ]
)

# `value` is read as text on purpose: a drifting producer that sends "n/a" must land in
# quarantine as non-numeric, not as a silent null indistinguishable from a missing value.
MEASUREMENT = T.StructType(
    [
        T.StructField("value", T.StringType()),
        T.StructField("flagInfo", T.StructType([T.StructField("hasFlags", T.BooleanType())])),
        T.StructField("parameter", _PARAMETER),
        T.StructField(
            "period",
            T.StructType(
                [
                    T.StructField("label", T.StringType()),
                    T.StructField("interval", T.StringType()),
                    T.StructField("datetimeFrom", _UTC_LOCAL),
                    T.StructField("datetimeTo", _UTC_LOCAL),
                ]
            ),
        ),
        T.StructField("coordinates", _COORDINATES),
        T.StructField(
            "coverage",
            T.StructType([T.StructField("percentCoverage", T.DoubleType())]),
        ),
        T.StructField(CORRUPT_RECORD, T.StringType()),
    ]
)

# The `openaq.measurements` Kafka message: the measurement as the API sent it, plus the ids and
# fetch time the pull carried (a measurement names neither its sensor nor its location).
MEASUREMENT_MESSAGE = T.StructType(
    [
        T.StructField("location_id", T.LongType()),
        T.StructField("sensor_id", T.LongType()),
        T.StructField("fetched_at", T.StringType()),
        T.StructField("measurement", MEASUREMENT),
        T.StructField(CORRUPT_RECORD, T.StringType()),
    ]
)

LOCATION = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("name", T.StringType()),
        T.StructField("locality", T.StringType()),
        T.StructField("timezone", T.StringType()),
        T.StructField("country", _NAMED),
        T.StructField("owner", _NAMED),
        T.StructField("provider", _NAMED),
        T.StructField("isMobile", T.BooleanType()),
        T.StructField("isMonitor", T.BooleanType()),
        T.StructField("coordinates", _COORDINATES),
        T.StructField(
            "sensors",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("id", T.LongType()),
                        T.StructField("name", T.StringType()),
                        T.StructField("parameter", _PARAMETER),
                    ]
                )
            ),
        ),
        T.StructField("datetimeFirst", _UTC_LOCAL),
        T.StructField("datetimeLast", _UTC_LOCAL),
        T.StructField(CORRUPT_RECORD, T.StringType()),
    ]
)
