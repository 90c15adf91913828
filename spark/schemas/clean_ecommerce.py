"""The clean e-commerce contracts: orders, web requests and social posts, and their quarantine
(spark/transforms/ecommerce/{orders,weblogs,social}.py select them).

Each clean row ends with the file version it came from: every source is a folder of exports
(assets/ecommerce/files.py), so the provenance columns are one tuple, shared.
"""

from spark.schemas.columns import Column

FILE_VERSION = (
    Column("source_file", "string", "The export's path under the landing folder."),
    Column("file_sha256", "string", "SHA-256 of the file version the row came from."),
    Column("record_number", "bigint", "The record's number in its file, from 1."),
    Column("received_at", "timestamp", "When the raw zone first received the file version."),
)

CLEAN_ORDERS = (
    Column("order_id", "string", "With order_line, the row's key."),
    Column("order_line", "int"),
    Column("ordered_at", "timestamp_ntz", "UTC wall clock."),
    Column("ordered_on", "date", "UTC day of ordered_at: the partition day."),
    Column("customer_key", "string", "HMAC-SHA256 of the customer's email (the email never passes)."),
    Column("product_id", "string"),
    Column("product_name", "string"),
    Column("category", "string"),
    Column("quantity", "int"),
    Column("unit_price", "decimal(18,2)", "In the currency's cents."),
    Column("currency", "string", "ISO 4217 code."),
    Column("line_amount", "decimal(18,2)", "quantity * unit_price."),
    Column("status", "string", "Canonical status (dbt/seeds/ecommerce/order_statuses.csv)."),
    Column("campaign_id", "string", "The ad campaign the order is attributed to, if any."),
    *FILE_VERSION,
)

CLEAN_REQUESTS = (
    Column("requested_at", "timestamp_ntz", "UTC wall clock."),
    Column("requested_on", "date", "UTC day of requested_at: the partition day."),
    Column("client_key", "string", "HMAC-SHA256 of the client IP (the IP never passes)."),
    Column("method", "string", "Null when the client sent no request line."),
    Column("path", "string"),
    Column("protocol", "string"),
    Column("status", "int", "HTTP status."),
    Column("response_bytes", "bigint", "Null for '-' (no body)."),
    Column("referrer", "string"),
    Column("user_agent", "string"),
    Column("invalid_utf8", "boolean", "The line had bytes that are not UTF-8 (replaced)."),
    *FILE_VERSION,
)

CLEAN_POSTS = (
    Column("post_id", "string", "The platform's post id: one row per id."),
    Column("platform", "string", "Lower case."),
    Column("author", "string"),
    Column("created_at", "timestamp_ntz", "UTC wall clock."),
    Column("created_on", "date", "UTC day of created_at: the partition day."),
    Column("text", "string"),
    Column("lang", "string"),
    Column("likes", "bigint"),
    Column("shares", "bigint"),
    Column("mentions", "string", "Lower case without '@', separated by single spaces."),
    Column("hashtags", "string", "Lower case without '#', separated by single spaces."),
    *FILE_VERSION,
)

QUARANTINE = (
    Column("source_file", "string"),
    Column("file_sha256", "string"),
    Column("record_number", "bigint"),
    Column("payload", "string", "The record as received, PII pseudonymised."),
    Column("reason", "string", "The first rule the record breaks."),
    Column("partition_day", "date"),
)
