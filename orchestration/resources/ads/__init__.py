"""Ad events: a deterministic sample generator, or NDJSON from an ad server of one's own."""

from orchestration.resources.ads.resource import AdEventsError, AdEventsResource, parse_ndjson_lines
from orchestration.resources.ads.sample import CAMPAIGNS, order_campaign, order_id, sample_events

__all__ = [
    "CAMPAIGNS",
    "AdEventsError",
    "AdEventsResource",
    "order_campaign",
    "order_id",
    "parse_ndjson_lines",
    "sample_events",
]
