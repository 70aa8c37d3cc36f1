"""The datasets service: uploads, parsing, profiles and previews of tables."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from tenacity import AsyncRetrying, wait_exponential_jitter

from narrative_common.app import create_app
from narrative_common.clients import create_mongo_client, open_object_store
from narrative_common.logging import configure_logging, get_logger
from narrative_common.service_client import ServiceClient
from narrative_datasets import __version__
from narrative_datasets.datasets.dependents import Dependents
from narrative_datasets.datasets.repository import DatasetRepository
from narrative_datasets.datasets.routes import internal_router, router
from narrative_datasets.datasets.service import DatasetService
from narrative_datasets.settings import DatasetsSettings, get_settings

SERVICE = "datasets"
log = get_logger(__name__)


async def _prepare_storage(
    repository: DatasetRepository, service: DatasetService
) -> None:
    """Create indexes and the bucket, retrying until both dependencies answer."""
    retrying = AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.5, max=30.0),
        before_sleep=lambda state: log.warning(
            "storage.prepare.retry",
            attempt=state.attempt_number,
            error=str(state.outcome.exception()),
        ),
    )
    async for attempt in retrying:
        with attempt:
            await repository.ensure_indexes()
            await service.store.ensure_bucket(service.bucket)
    log.info("storage.prepared", bucket=service.bucket)


def _lifespan(settings: DatasetsSettings):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            mongo = create_mongo_client(settings, app_name=SERVICE)
            stack.push_async_callback(mongo.close)
            store = await stack.enter_async_context(open_object_store(settings))
            token = settings.internal_token.get_secret_value()
            timeout = settings.service_call_timeout_seconds
            training = ServiceClient("training", settings.training_url, token, timeout)
            analysis = ServiceClient(
                "ai-analysis", settings.analysis_url, token, timeout
            )
            stack.push_async_callback(training.aclose)
            stack.push_async_callback(analysis.aclose)

            repository = DatasetRepository(mongo[settings.mongodb_database])
            service = DatasetService(
                settings, repository, store, Dependents(training, analysis)
            )
            app.state.datasets = service

            async def check_s3() -> None:
                await store.ping(settings.s3_bucket_uploads)

            async def check_mongodb() -> None:
                await repository.ping()

            app.state.health.add("mongodb", check_mongodb)
            app.state.health.add("s3", check_s3)
            app.state.health.add("training", training.ping, required=False)
            app.state.health.add("ai-analysis", analysis.ping, required=False)

            task = asyncio.create_task(_prepare_storage(repository, service))
            try:
                yield
            finally:
                task.cancel()

    return lifespan


def build_app(settings: DatasetsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    application = create_app(
        service=SERVICE,
        title="Narrative Modeling datasets",
        version=__version__,
        settings=settings,
        lifespan=_lifespan(settings),
        description="Upload, profile and preview tables (CSV and XLSX).",
    )
    application.include_router(router)
    application.include_router(internal_router)
    return application


app = build_app()
