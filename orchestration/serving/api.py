"""The HTTP API over the marts: a thin FastAPI adapter over `queries` and a `readers` reader.

Every listing in `queries.LISTINGS` that has a route in `ROUTES` becomes one GET endpoint with
its filters as typed query parameters, `limit` and `cursor`; adding an endpoint is a Listing
and one line in ROUTES, which names the dataset scope an API key needs for it (`api_auth`
enforces it for every route). Query parameters the endpoint does not declare are refused (400)
so a misspelt filter never silently returns everything.
"""

import asyncio
import inspect
import json
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple

import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import create_model

from orchestration.serving import queries
from orchestration.serving.api_auth import Authenticator, NoApiKeys
from orchestration.serving.api_keys import KeyStore
from orchestration.serving.api_metrics import ApiMetrics
from orchestration.serving.api_middleware import MetricsMiddleware
from orchestration.serving.cache import PageCache, cache_key
from orchestration.serving.money import decimal_text
from orchestration.serving.readers import WarehouseUnavailable, reader_for
from orchestration.serving.settings import ServingSettings, from_env


class Route(NamedTuple):
    scope: str  # the dataset an API key must be granted to read this route (api_keys.SCOPES)
    listing: queries.Listing


ROUTES = {
    "/v1/air-quality/daily": Route("air-quality", queries.AIR_QUALITY_DAILY),
    "/v1/locations": Route("air-quality", queries.LOCATIONS),
    "/v1/users/by-country/daily": Route("users", queries.USERS_BY_COUNTRY_DAILY),
    "/v1/sales/daily": Route("sales", queries.SALES_DAILY),
    "/v1/campaigns/daily": Route("campaigns", queries.CAMPAIGNS_DAILY),
    "/v1/web-traffic/daily": Route("web-traffic", queries.WEB_TRAFFIC_DAILY),
    "/v1/social-mentions/daily": Route("social", queries.SOCIAL_MENTIONS_DAILY),
    "/v1/catalog/files": Route("catalog", queries.CATALOG_FILES),
}
PAGING_PARAMS = {"limit", "cursor"}


def page_model(listing: queries.Listing):
    item = create_model(f"{listing.name}_item", **{n: (t, ...) for n, (_, t) in listing.columns.items()})
    return create_model(f"{listing.name}_page", items=(list[item], ...), next_cursor=(str | None, None))


def _json_default(value):
    if isinstance(value, datetime):
        # An instant in UTC: the drivers hand it over in their session's time zone, which
        # differs between DuckDB and PostgreSQL and between servers.
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):  # money: a string at the mart column's scale ("12.50")
        return decimal_text(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def page_body(listing: queries.Listing, rows: list[dict], limit: int) -> bytes:
    return json.dumps(queries.page(listing, rows, limit), default=_json_default, separators=(",", ":")).encode()


def _endpoint(app: FastAPI, path: str, listing: queries.Listing):
    allowed = {f.name for f in listing.filters} | PAGING_PARAMS

    async def endpoint(request: Request, **params):
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            return _error(400, f"unknown query parameter(s) {unknown}; this endpoint takes {sorted(allowed)}")
        limit, cursor_text = params.pop("limit"), params.pop("cursor")
        reader, cache = app.state.reader, app.state.cache
        try:
            queries.check_range(params)
            cursor = queries.decode_cursor(listing, cursor_text) if cursor_text else None
            version = await asyncio.to_thread(reader.version)
            key = cache_key(listing.name, version, {**params, "limit": limit, "cursor": cursor_text})
            body = await cache.get(path, key)
            if body is None:
                sql, values = queries.page_sql(listing, params, cursor, limit, reader.placeholder)
                rows = await asyncio.to_thread(reader.rows, sql, values)
                body = page_body(listing, rows, limit)
                await cache.put(path, key, body)
        except queries.BadRequest as error:
            return _error(400, str(error))
        except WarehouseUnavailable as error:
            app.state.metrics.warehouse_errors.labels(path).inc()
            return _error(503, f"warehouse unavailable: {error}")
        return Response(body, media_type="application/json")

    signature = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for f in listing.filters:
        signature.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=f.type | None, default=Query(None))
        )
    signature += [
        inspect.Parameter(
            "limit",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=int,
            default=Query(queries.DEFAULT_LIMIT, ge=1, le=queries.MAX_LIMIT),
        ),
        inspect.Parameter(
            "cursor",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str | None,
            default=Query(None, description="next_cursor of the previous page"),
        ),
    ]
    endpoint.__signature__ = inspect.Signature(signature)
    endpoint.__name__ = listing.name
    return endpoint


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(settings: ServingSettings | None = None, reader=None) -> FastAPI:
    """Raises NoApiKeys on the prod profile when the key store holds no active key."""
    settings = settings or from_env()
    store = KeyStore(settings.api_keys_path) if settings.api_keys_path else None
    auth = Authenticator(store, settings.profile, settings.api_keys_check_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.reader = reader or reader_for(settings)
        app.state.cache = PageCache(settings.redis_url, settings.cache_ttl_seconds, app.state.metrics)
        yield
        await app.state.cache.close()
        if reader is None:
            app.state.reader.close()

    app = FastAPI(title="airstream marts API", version="1", lifespan=lifespan)
    app.state.metrics = ApiMetrics()
    app.state.auth = auth
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    for path, (scope, listing) in ROUTES.items():
        app.get(
            path,
            response_model=page_model(listing),
            summary=f"Pages of {listing.name} (API key scope {scope})",
            dependencies=[Depends(auth.require(scope))],
        )(_endpoint(app, path, listing))

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        try:
            marts = await asyncio.to_thread(
                app.state.reader.rows,
                "select count(*) as n from information_schema.tables where table_schema = 'marts'",
                [],
            )
        except Exception as error:  # noqa: BLE001 - any failure to read means not ready
            return _error(503, f"warehouse unreachable: {error}")
        if not marts[0]["n"]:
            return _error(503, "warehouse reachable but schema marts is empty")
        return {"status": "ready", "marts": marts[0]["n"]}

    @app.get("/metrics", include_in_schema=False)
    async def metrics():
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def main() -> None:
    settings = from_env()
    try:
        app = create_app(settings)
    except NoApiKeys as error:
        raise SystemExit(f"error: {error}") from None
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="warning")


if __name__ == "__main__":
    main()
