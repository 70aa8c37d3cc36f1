"""The ai-analysis service: narrative insights about datasets and models."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import FastAPI
from tenacity import AsyncRetrying, wait_exponential_jitter

from narrative_analysis import __version__
from narrative_analysis.analysis.cache import ResultCache
from narrative_analysis.analysis.repository import AnalysisRepository
from narrative_analysis.analysis.routes import internal_router, router
from narrative_analysis.analysis.service import AnalysisService
from narrative_analysis.llm.breaker import CircuitBreaker, CircuitState
from narrative_analysis.llm.client import OpenAIClient
from narrative_analysis.llm.prompts import PROMPT_VERSION
from narrative_analysis.metrics import CIRCUIT_STATE_VALUES, METRICS, AnalysisMetrics
from narrative_analysis.settings import AnalysisSettings
from narrative_common.app import create_app
from narrative_common.clients import create_mongo_client, create_redis_client
from narrative_common.logging import configure_logging
from narrative_common.service_client import ServiceClient

SERVICE = "ai-analysis"

log = structlog.stdlib.get_logger(__name__)


async def _ensure_indexes(repository: AnalysisRepository) -> None:
    """Create the indexes, retrying until MongoDB accepts the command."""
    async for attempt in AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.5, max=30.0),
        before_sleep=lambda state: log.warning(
            "analysis.indexes.retry",
            attempt=state.attempt_number,
            error=str(state.outcome.exception()),
        ),
    ):
        with attempt:
            await repository.ensure_indexes()
    log.info("analysis.indexes.ready")


def build_breaker(settings: AnalysisSettings, metrics: AnalysisMetrics):
    def on_change(state: CircuitState) -> None:
        metrics.openai_circuit_state.set(CIRCUIT_STATE_VALUES[state.value])

    return CircuitBreaker(
        settings.circuit_failure_threshold, settings.circuit_reset_seconds, on_change
    )


def openai_check(settings: AnalysisSettings, client: OpenAIClient | None):
    """Report OpenAI from the breaker's state, without spending a request on it."""

    async def check() -> dict:
        if client is None:
            return {"status": "ok", "analyzer": "local", "reason": "no API key set"}
        state = client.breaker.state
        detail = {
            "analyzer": "openai",
            "model": settings.openai_model,
            "circuit_state": state.value,
            "consecutive_failures": client.breaker.consecutive_failures,
        }
        if state is not CircuitState.CLOSED:
            detail["status"] = "degraded"
        return detail

    return check


def create(settings: AnalysisSettings | None = None) -> FastAPI:
    settings = settings or AnalysisSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = create_mongo_client(settings, SERVICE)
        redis = create_redis_client(settings)
        token = settings.internal_token.get_secret_value()
        timeout = settings.service_call_timeout_seconds
        datasets = ServiceClient("datasets", settings.datasets_url, token, timeout)
        training = ServiceClient("training", settings.training_url, token, timeout)
        repository = AnalysisRepository(mongo[settings.mongodb_database])
        openai = None
        if settings.openai_enabled:
            openai = OpenAIClient(settings, METRICS, build_breaker(settings, METRICS))
        else:
            METRICS.openai_circuit_state.set(0)
        cache = ResultCache(redis, settings.cache_ttl_seconds)
        app.state.analysis = AnalysisService(
            settings,
            repository,
            cache,
            datasets,
            training,
            openai,
            METRICS,
        )
        health = app.state.health
        health.add("mongodb", repository.ping)
        health.add("redis", cache.ping, required=False)
        health.add("openai", openai_check(settings, openai), required=False)
        health.add("datasets", datasets.ping, required=False)
        health.add("training", training.ping, required=False)
        indexes = asyncio.create_task(_ensure_indexes(repository))
        log.info(
            "analysis.started",
            analyzer="openai" if openai else "local",
            prompt_version=PROMPT_VERSION,
        )
        try:
            yield
        finally:
            indexes.cancel()
            with suppress(asyncio.CancelledError):
                await indexes
            if openai is not None:
                await openai.aclose()
            await datasets.aclose()
            await training.aclose()
            await redis.aclose()
            await mongo.close()

    app = create_app(
        service=SERVICE,
        title="Narrative Modeling: ai-analysis",
        version=__version__,
        settings=settings,
        lifespan=lifespan,
        description=(
            "Plain-language analyses of datasets and trained models, written by "
            "OpenAI with structured output or by the local analyzer."
        ),
    )
    app.include_router(router)
    app.include_router(internal_router)
    return app


app = create()
