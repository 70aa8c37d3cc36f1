"""The training API: job submission and model metadata (port 8020)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from tenacity import AsyncRetrying, wait_exponential_jitter

from narrative_common.app import create_app
from narrative_common.clients import create_mongo_client, open_object_store
from narrative_common.logging import configure_logging, get_logger
from narrative_common.service_client import ServiceClient
from narrative_training import __version__
from narrative_training.jobs.repository import JobRepository
from narrative_training.jobs.routes import internal_router as jobs_internal_router
from narrative_training.jobs.routes import router as jobs_router
from narrative_training.metrics import get_metrics
from narrative_training.models.repository import ModelRepository
from narrative_training.models.routes import internal_router
from narrative_training.models.routes import router as models_router
from narrative_training.queue import create_queue, queue_depth
from narrative_training.settings import TrainingSettings

log = get_logger(__name__)
QUEUE_DEPTH_REFRESH_SECONDS = 5.0


async def prepare_storage(jobs, models, store, bucket: str) -> None:
    """Create indexes and the models bucket, retrying until the stores answer."""
    async for attempt in AsyncRetrying(wait=wait_exponential_jitter(1, 30)):
        with attempt:
            try:
                await jobs.ensure_indexes()
                await models.ensure_indexes()
                await store.ensure_bucket(bucket)
            except Exception as exc:
                log.warning("storage.prepare.retry", error=str(exc))
                raise
    log.info("storage.prepared", bucket=bucket)


async def refresh_queue_depth(queue, queue_name: str) -> None:
    gauge = get_metrics().queue_depth
    while True:
        try:
            gauge.set(await queue_depth(queue, queue_name))
        except Exception as exc:  # noqa: BLE001 - Redis down: keep the last value
            log.warning("queue.depth.refresh_failed", error=str(exc))
        await asyncio.sleep(QUEUE_DEPTH_REFRESH_SECONDS)


def build_app(settings: TrainingSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        get_metrics(settings.metrics_max_tracked_ids)
        async with AsyncExitStack() as stack:
            mongo = create_mongo_client(settings, "narrative-training")
            stack.push_async_callback(mongo.close)
            database = mongo[settings.mongodb_database]
            state = app.state
            state.jobs = JobRepository(database)
            state.models = ModelRepository(database)
            state.queue = state.redis = create_queue(settings)
            stack.push_async_callback(state.queue.aclose)
            state.store = await stack.enter_async_context(open_object_store(settings))
            token = settings.internal_token.get_secret_value()
            timeout = settings.service_call_timeout_seconds
            state.datasets = ServiceClient(
                "datasets", settings.datasets_url, token, timeout
            )
            state.analysis = ServiceClient(
                "ai-analysis", settings.analysis_url, token, timeout, attempts=1
            )
            stack.push_async_callback(state.datasets.aclose)
            stack.push_async_callback(state.analysis.aclose)

            health = state.health
            health.add("mongodb", lambda: database.command("ping"))
            health.add("redis", state.queue.ping)
            health.add("s3", lambda: state.store.ping(settings.s3_bucket_models))
            health.add("datasets", state.datasets.ping, required=False)

            tasks = [
                asyncio.create_task(
                    prepare_storage(
                        state.jobs, state.models, state.store, settings.s3_bucket_models
                    )
                ),
                asyncio.create_task(
                    refresh_queue_depth(state.queue, settings.queue_name)
                ),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    app = create_app(
        service="training",
        title="Narrative Modeling training",
        version=__version__,
        settings=settings,
        lifespan=lifespan,
        description="Training jobs on a Redis queue, and the trained models.",
    )
    app.include_router(jobs_router)
    app.include_router(models_router)
    app.include_router(internal_router)
    app.include_router(jobs_internal_router)
    return app


_settings = TrainingSettings()
configure_logging("training", _settings.log_level, _settings.log_format)
app = build_app(_settings)
