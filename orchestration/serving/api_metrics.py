"""The API's own Prometheus series (`airstream_api_*`), in a registry per app."""

from prometheus_client import CollectorRegistry, Counter, Histogram

# Cached pages answer in about a millisecond, warehouse reads in tens: buckets cover both.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "airstream_api_requests",
            "HTTP requests answered, by route template and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        # Labelled by the key's name (never the key): one series per key, route and status.
        self.key_requests = Counter(
            "airstream_api_key_requests",
            "HTTP requests answered to a known API key, by the key's name, route template and status.",
            ["key", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "airstream_api_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "airstream_api_cache_requests",
            "Page cache lookups by outcome (hit, miss, error).",
            ["route", "result"],
            registry=self.registry,
        )
        self.warehouse_errors = Counter(
            "airstream_api_warehouse_errors",
            "Requests refused (503) because the warehouse could not be read.",
            ["route"],
            registry=self.registry,
        )
