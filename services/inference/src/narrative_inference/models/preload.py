"""Load the most recently used models at start, so first predictions are warm."""

import asyncio
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from narrative_common.auth import User
from narrative_common.errors import AppError
from narrative_inference.models.cache import ModelCache
from narrative_inference.models.recent import RecentModels

log = structlog.stdlib.get_logger(__name__)


@dataclass
class PreloadState:
    state: str = "pending"  # pending, running, done
    requested: int = 0
    loaded: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "requested": self.requested,
            "loaded": self.loaded,
            "failed": self.failed,
        }


async def preload_one(cache: ModelCache, model_id: str, owner: str) -> bool:
    """Load one model for its owner. Failures are logged and return False."""
    try:
        await cache.get(model_id, User(id=owner))
    except AppError as exc:
        log.warning(
            "model.preload.failed", model_id=model_id, owner=owner, error=exc.message
        )
        return False
    except Exception as exc:  # noqa: BLE001 - a failed preload must not stop the rest
        log.warning(
            "model.preload.failed",
            model_id=model_id,
            owner=owner,
            error=f"{type(exc).__name__}: {exc}",
        )
        return False
    return True


async def preload_recent(
    cache: ModelCache, recent: RecentModels, count: int, state: PreloadState
) -> None:
    """Load the `count` most recently used models, least recent first.

    Loading the least recent first leaves the most recent one at the young
    end of the cache's LRU order. Reading the list is retried until Redis
    responds, and the task is cancelled at shutdown.
    """
    count = min(count, cache.max_entries)
    state.state = "running"
    async for attempt in AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.5, max=10.0),
        retry=retry_if_exception_type((RedisError, OSError)),
        before_sleep=lambda retry_state: log.warning(
            "model.preload.redis_unavailable",
            attempt=retry_state.attempt_number,
            error=str(retry_state.outcome.exception()),
        ),
    ):
        with attempt:
            pairs = await recent.most_recent(count)
    state.requested = len(pairs)
    log.info("model.preload.started", models=len(pairs))
    for model_id, owner in reversed(pairs):
        if await preload_one(cache, model_id, owner):
            state.loaded += 1
        else:
            state.failed += 1
        await asyncio.sleep(0)
    state.state = "done"
    log.info("model.preload.finished", loaded=state.loaded, failed=state.failed)
