"""OpenAQ v3 source: a live HTTP client and a deterministic sample client behind one resource."""

from orchestration.resources.openaq.errors import (
    OpenAQAuthError,
    OpenAQError,
    OpenAQGoneError,
    OpenAQPageError,
)
from orchestration.resources.openaq.live import LiveOpenAQClient
from orchestration.resources.openaq.pages import (
    MeasurementPage,
    SensorRef,
    as_utc,
    is_last_page,
    parse_found,
    parse_locations_page,
    parse_measurement_page,
    sensors_of,
)
from orchestration.resources.openaq.resource import OpenAQClient, OpenAQResource
from orchestration.resources.openaq.sample import SampleOpenAQClient, sample_location

__all__ = [
    "LiveOpenAQClient",
    "MeasurementPage",
    "OpenAQAuthError",
    "OpenAQClient",
    "OpenAQError",
    "OpenAQGoneError",
    "OpenAQPageError",
    "OpenAQResource",
    "SampleOpenAQClient",
    "SensorRef",
    "as_utc",
    "is_last_page",
    "parse_found",
    "parse_locations_page",
    "parse_measurement_page",
    "sample_location",
    "sensors_of",
]
