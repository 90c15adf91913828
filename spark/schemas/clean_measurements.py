"""The clean OpenAQ measurements contract (spark/transforms/measurements.py selects it)."""

from spark.schemas.columns import Column

CLEAN_MEASUREMENTS = (
    Column("sensor_id", "bigint", "OpenAQ sensor id; with period_end_utc, the row's key."),
    Column("location_id", "bigint", "OpenAQ location id of the sensor."),
    Column("parameter_id", "bigint", "OpenAQ parameter id."),
    Column("parameter_name", "string", "What is measured (pm25, temperature, ...)."),
    Column("units", "string", "The value's units as OpenAQ gives them."),
    Column("value", "double", "The measured value, within the parameter's plausible bounds."),
    Column("period_start_utc", "timestamp_ntz", "Start of the averaging period, UTC wall clock."),
    Column("period_end_utc", "timestamp_ntz", "End of the averaging period, UTC wall clock."),
    Column("measured_on", "date", "UTC day of period_start_utc: the partition day."),
    Column("has_flags", "boolean", "Whether OpenAQ flagged the measurement."),
    Column("coverage_percent", "double", "Share of the period the sensor reported, in percent."),
    Column("latitude", "double"),
    Column("longitude", "double"),
    Column("ingested_at", "timestamp_ntz", "When the source adapter fetched it, UTC wall clock."),
)
