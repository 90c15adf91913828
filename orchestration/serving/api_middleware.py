"""Request counts and latency per route template (never per raw path: cardinality stays fixed),
and per API key name (set on the request's state by `api_auth` once the key is known)."""

import time

from orchestration.serving.api_metrics import ApiMetrics


class MetricsMiddleware:
    """Plain ASGI: BaseHTTPMiddleware costs a task per request, which the cached path notices."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}

        async def send_recording(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(label, scope["method"], str(status["code"])).inc()
            key_name = scope.get("state", {}).get("api_key_name")
            if key_name is not None:
                self.metrics.key_requests.labels(key_name, label, str(status["code"])).inc()
            self.metrics.latency.labels(label, scope["method"]).observe(time.perf_counter() - start)
