"""The clean users contract: the columns of the clean users table, in order, with their types.

Defined once, here, without a pyspark import: the Spark step selects these columns
(spark/transforms/users.py) and the Cassandra sink maps every one of them to a column
(assets/core/rows.py). Spark sits below the assets, so the contract lives at the bottom.
"""

from spark.schemas.columns import Column, names

CLEAN_USERS = (
    Column("user_id", "string", "randomuser.me login.uuid: one row per user."),
    Column("gender", "string"),
    Column("title", "string"),
    Column("first_name", "string"),
    Column("last_name", "string"),
    Column("email", "string"),
    Column("username", "string"),
    Column("dob_utc", "timestamp_ntz", "Date of birth, UTC wall clock."),
    Column("registered_utc", "timestamp_ntz", "Registration time, UTC wall clock."),
    Column("phone", "string"),
    Column("cell", "string"),
    Column("nationality", "string", "randomuser.me nationality code (US, FR, ...)."),
    Column("street_number", "bigint"),
    Column("street_name", "string"),
    Column("city", "string"),
    Column("state", "string"),
    Column("country", "string"),
    Column("postcode", "string", "As text: some countries' postcodes have letters."),
    Column("latitude", "double"),
    Column("longitude", "double"),
    Column("timezone_offset", "string", "The user's UTC offset as given (+5:30)."),
    Column("timezone_description", "string"),
    Column("id_name", "string", "Name of the national id (SSN, INSEE, ...)."),
    Column("id_value", "string"),
    Column("picture_large", "string", "URL."),
    Column("picture_medium", "string", "URL."),
    Column("picture_thumbnail", "string", "URL."),
    Column("ingested_on", "date", "The pull day: the partition day."),
    Column("ingested_at", "timestamp_ntz", "When the landing received it, UTC wall clock."),
)
CLEAN_USER_COLUMNS = names(CLEAN_USERS)
