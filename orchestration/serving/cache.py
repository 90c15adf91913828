"""The API's Redis cache: a page's JSON under a key that carries the marts' version stamp.

Invalidation is by the key, not by deleting: when a day of the marts is rematerialized the
reader's version stamp changes (a new DuckDB file identity, new PostgreSQL table statistics),
so every later request asks for a key that does not exist yet and reads the warehouse again.
Entries of the old version are never read again and expire with the TTL.
"""

import hashlib
import json

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from orchestration.serving.api_metrics import ApiMetrics


def cache_key(listing: str, version: str, params: dict) -> str:
    """Stable for the same query: parameters sorted, the version hashed with them."""
    canonical = json.dumps({"v": version, "p": params}, sort_keys=True, default=str, separators=(",", ":"))
    return f"airstream:api:{listing}:{hashlib.sha256(canonical.encode()).hexdigest()}"


class PageCache:
    """Absent REDIS_URL the cache is off and every request is a miss that is not counted."""

    def __init__(self, url: str | None, ttl_seconds: int, metrics: ApiMetrics):
        self.ttl_seconds = ttl_seconds
        self.metrics = metrics
        self._redis = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0) if url else None

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    async def get(self, route: str, key: str) -> bytes | None:
        if self._redis is None:
            return None
        try:
            value = await self._redis.get(key)
        except RedisError:
            # A cache that is down must not take the API down: read the warehouse instead.
            self.metrics.cache.labels(route, "error").inc()
            return None
        self.metrics.cache.labels(route, "hit" if value is not None else "miss").inc()
        return value

    async def put(self, route: str, key: str, body: bytes) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.set(key, body, ex=self.ttl_seconds)
        except RedisError:
            self.metrics.cache.labels(route, "error").inc()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
