"""The gateway app: ForwardAuth for Traefik, merged /docs, health and metrics of all."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import REGISTRY, generate_latest

from narrative_common.app import create_app
from narrative_common.clients import (
    create_mongo_client,
    create_redis_client,
    mongo_check,
    redis_check,
)
from narrative_common.logging import configure_logging
from narrative_gateway import __version__
from narrative_gateway.activity import ActivityTracker
from narrative_gateway.aggregate import Services
from narrative_gateway.auth import Authenticator, ForwardAuthApp
from narrative_gateway.keys import KeyStore
from narrative_gateway.settings import GatewaySettings

settings = GatewaySettings()
configure_logging("gateway", settings.log_level, settings.log_format)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    mongo = create_mongo_client(settings, "narrative-gateway")
    redis_client = create_redis_client(settings)
    services = Services(
        {
            "datasets": settings.datasets_url,
            "training": settings.training_url,
            "inference": settings.inference_url,
            "analysis": settings.analysis_url,
        },
        settings.gateway_service_timeout_seconds,
    )
    activity = ActivityTracker(redis_client)
    app.state.services = services
    app.state.authenticator = Authenticator(
        KeyStore(mongo, settings.mongodb_database),
        settings.internal_token.get_secret_value(),
        activity,
        settings.gateway_auth_cache_seconds,
        settings.gateway_auth_cache_entries,
    )
    health = app.state.health
    health.add("mongodb", mongo_check(mongo))
    health.add("redis", redis_check(redis_client))
    for name in services.urls:
        health.add(name, services.health_check(name), required=False)
    refresher = asyncio.create_task(
        activity.refresh_forever(settings.gateway_active_users_refresh_seconds)
    )
    try:
        yield
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await services.aclose()
        await redis_client.aclose()
        await mongo.close()


app = create_app(
    service="gateway",
    title="Narrative Modeling gateway",
    version=__version__,
    settings=settings,
    lifespan=lifespan,
    openapi_url="/gateway/openapi.json",
    docs_url=None,
    redoc_url=None,
)
app.add_middleware(ForwardAuthApp)


@app.get("/openapi.json", include_in_schema=False)
async def merged_openapi(request: Request) -> JSONResponse:
    """Return one OpenAPI document for every service behind the gateway."""
    return JSONResponse(await request.app.state.services.openapi(request.app.openapi()))


@app.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    """Serve the API reference of all services."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="Narrative Modeling API"
    )


_UNREACHABLE = {
    502: "A service behind the gateway is not reachable right now.",
    504: "A service behind the gateway did not respond in time.",
}


@app.get("/errors/{status_code}", include_in_schema=False)
async def error_page(status_code: int) -> JSONResponse:
    """Render Traefik's own 502 and 504 responses in the error envelope."""
    message = _UNREACHABLE.get(status_code, "The gateway could not route this request.")
    return JSONResponse(
        {
            "error": "service_unavailable",
            "message": f"{message} Try again shortly; GET /health/detailed shows "
            "which service is down.",
            "request_id": structlog.contextvars.get_contextvars().get("request_id"),
        },
        status_code=status_code if status_code in _UNREACHABLE else 502,
        headers={"Retry-After": "5"},
    )


@app.get("/metrics/all", include_in_schema=False)
async def all_metrics(request: Request) -> PlainTextResponse:
    """Return the metrics of the gateway and every service, labelled by service."""
    own = generate_latest(REGISTRY).decode()
    text = await request.app.state.services.metrics_text(own)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
