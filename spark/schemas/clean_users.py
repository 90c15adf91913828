"""The clean users contract: the columns of the clean users table, in order.

Defined once, here, without a pyspark import: the Spark step selects these columns
(spark/transforms/users.py) and the Cassandra sink maps every one of them to a column
(assets/core/rows.py). Spark sits below the assets, so the contract lives at the bottom.
"""

CLEAN_USER_COLUMNS = (
    "user_id",
    "gender",
    "title",
    "first_name",
    "last_name",
    "email",
    "username",
    "dob_utc",
    "registered_utc",
    "phone",
    "cell",
    "nationality",
    "street_number",
    "street_name",
    "city",
    "state",
    "country",
    "postcode",
    "latitude",
    "longitude",
    "timezone_offset",
    "timezone_description",
    "id_name",
    "id_value",
    "picture_large",
    "picture_medium",
    "picture_thumbnail",
    "ingested_on",
    "ingested_at",
)
