"""The clean ad events contract (spark/transforms/ecommerce/ads.py selects it)."""

from spark.schemas.columns import Column

CLEAN_ADS = (
    Column("event_id", "string", "The ad server's event id: one row per id."),
    Column("campaign_id", "string", "The campaign, as reference.campaigns knows it (or flags it)."),
    Column("event_type", "string", "impression, click or conversion."),
    Column("event_ts", "timestamp_ntz", "When the event happened, UTC wall clock."),
    Column("event_date", "date", "UTC day of event_ts."),
    Column("cost", "decimal(18,6)", "EUR, six decimals (micro-euros)."),
    Column("revenue", "decimal(18,6)", "EUR, six decimals (micro-euros)."),
    Column("order_id", "string", "The order a conversion led to."),
    Column("is_late", "boolean", "event_date is before the pull day."),
    Column("ingested_on", "date", "The pull day: the partition day."),
    Column("ingested_at", "timestamp_ntz", "When the landing received it, UTC wall clock."),
)
