"""The inference service's app: `uvicorn narrative_inference.main:app` (port 8030)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import FastAPI

from narrative_common.app import create_app
from narrative_common.clients import create_redis_client, open_object_store
from narrative_common.logging import configure_logging
from narrative_common.service_client import ServiceClient
from narrative_inference import __version__
from narrative_inference.metrics import METRICS
from narrative_inference.models.body_limit import PredictBodyLimit
from narrative_inference.models.cache import ModelCache
from narrative_inference.models.events import ModelEventListener
from narrative_inference.models.loader import ModelLoader
from narrative_inference.models.preload import PreloadState, preload_one, preload_recent
from narrative_inference.models.recent import RecentModels
from narrative_inference.models.routes import router
from narrative_inference.settings import InferenceSettings

log = structlog.stdlib.get_logger(__name__)


def build_app(settings: InferenceSettings | None = None) -> FastAPI:
    """Create the app; its lifespan opens the clients and starts background tasks."""
    settings = settings or InferenceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        METRICS.model_id_label.max_values = settings.metrics_max_tracked_ids
        redis_client = create_redis_client(settings)
        training = ServiceClient(
            "training",
            settings.training_url,
            settings.internal_token.get_secret_value(),
            settings.service_call_timeout_seconds,
        )
        async with open_object_store(settings) as store:
            recent = RecentModels(
                redis_client,
                write_interval_seconds=settings.recent_write_interval_seconds,
                max_tracked=settings.recent_max_tracked,
            )
            cache = ModelCache(
                ModelLoader(training, store, settings.session_intra_op_threads),
                max_entries=settings.cache_max_entries,
                max_bytes=settings.cache_max_bytes,
                on_use=recent.touch,
            )

            async def preload_trained(model_id: str, owner: str) -> None:
                await preload_one(cache, model_id, owner)

            listener = ModelEventListener(
                redis_client,
                cache,
                recent,
                preload_trained if settings.preload_on_trained else None,
            )
            app.state.cache = cache
            app.state.recent = recent
            app.state.events = listener
            app.state.preload = PreloadState()

            async def check_redis() -> dict:
                await redis_client.ping()
                return {"model_events_subscribed": listener.subscribed.is_set()}

            async def check_s3() -> None:
                await store.ping(settings.s3_bucket_models)

            health = app.state.health
            # Cached models keep serving without Redis, which only carries
            # lifecycle events and the recent-models list.
            health.add("redis", check_redis, required=False)
            health.add("s3", check_s3)
            health.add("training", training.ping)

            tasks = [
                asyncio.create_task(listener.run(), name="model-events"),
                asyncio.create_task(
                    preload_recent(
                        cache, recent, settings.preload_count, app.state.preload
                    ),
                    name="preload",
                ),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with suppress(asyncio.CancelledError):
                        await task
                await recent.wait_for_writes()
                await training.aclose()
                await redis_client.aclose()

    app = create_app(
        service="inference",
        title="Narrative Modeling inference",
        version=__version__,
        settings=settings,
        lifespan=lifespan,
        description="Predictions from your trained models, one row or a CSV at a time.",
    )
    app.include_router(router)
    app.add_middleware(PredictBodyLimit, max_bytes=settings.predict_max_body_bytes)
    return app


_settings = InferenceSettings()
configure_logging("inference", _settings.log_level, _settings.log_format)
app = build_app(_settings)
