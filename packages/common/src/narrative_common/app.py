"""Build a service's FastAPI app with the parts every service shares."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import Depends, FastAPI

from narrative_common.errors import install_error_handlers
from narrative_common.health import HealthChecks
from narrative_common.metrics import metrics_response
from narrative_common.middleware import ObservabilityMiddleware, track_active_request
from narrative_common.profiling import profiling_router
from narrative_common.settings import CommonSettings

log = structlog.stdlib.get_logger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _refresh_health(app: FastAPI, interval_seconds: float) -> None:
    """Run the dependency checks on a timer, so `dependency_up` stays current
    even where nothing polls /health/ready."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await app.state.health.report()
        except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
            log.warning("health.refresh_failed", error=str(exc))


def create_app(
    *,
    service: str,
    title: str,
    version: str,
    settings: CommonSettings,
    lifespan: Lifespan | None = None,
    description: str = "",
    **fastapi_options,
) -> FastAPI:
    """Return an app with error envelopes, metrics, request ids, health and profiling.

    The service's own lifespan runs inside the shared one and registers its
    dependency checks on `app.state.health`.
    """

    @asynccontextmanager
    async def shared_lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("service.starting", version=version, environment=settings.environment)
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                refresher = asyncio.create_task(
                    _refresh_health(app, settings.health_refresh_seconds)
                )
                try:
                    yield
                finally:
                    refresher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await refresher
        log.info("service.stopped")

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=shared_lifespan,
        dependencies=[Depends(track_active_request)],
        **fastapi_options,
    )
    app.state.settings = settings
    app.state.internal_token = settings.internal_token.get_secret_value()
    app.state.health = HealthChecks(
        service=service,
        version=version,
        timeout_seconds=settings.health_check_timeout_seconds,
    )
    install_error_handlers(app)
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(app.state.health.router())
    app.add_route("/metrics", metrics_response, include_in_schema=False)
    app.include_router(profiling_router())
    return app
