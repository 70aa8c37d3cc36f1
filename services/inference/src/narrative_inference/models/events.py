"""Model lifecycle events from Redis: evict deleted models, preload trained ones.

Training publishes JSON such as `{"event": "model.deleted", "model_id": ...,
"user_id": ...}` on the `model-events` channel. Pub/sub delivers only while
subscribed, so a replica that was disconnected may miss a deletion; it then
keeps the model until it is evicted by capacity or explicitly, and the
owner check against training's metadata happens again only on the next load.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from narrative_inference.models.cache import ModelCache
from narrative_inference.models.recent import RecentModels

log = structlog.stdlib.get_logger(__name__)

MODEL_EVENTS_CHANNEL = "model-events"
RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0

# Loads a model for its owner in the background: (model_id, owner).
Preloader = Callable[[str, str], Awaitable[None]]


class ModelEventListener:
    def __init__(
        self,
        client: redis.Redis,
        cache: ModelCache,
        recent: RecentModels | None = None,
        preload: Preloader | None = None,
    ) -> None:
        self._client = client
        self._cache = cache
        self._recent = recent
        self._preload = preload
        self._tasks: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()
        self.events_handled = 0

    async def handle(self, data: bytes | str) -> None:
        """Apply one event; malformed events are logged and skipped."""
        try:
            event = json.loads(data)
            kind = event["event"]
            model_id = str(event["model_id"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("model_events.invalid", error=str(exc), data=str(data)[:200])
            return
        self.events_handled += 1
        if kind == "model.deleted":
            evicted = self._cache.evict(model_id, "deleted")
            log.info("model_events.deleted", model_id=model_id, evicted=evicted)
            if self._recent is not None:
                try:
                    await self._recent.forget(model_id)
                except (RedisError, OSError) as exc:
                    log.warning(
                        "recent_models.forget_failed", model_id=model_id, error=str(exc)
                    )
        elif kind == "model.trained" and self._preload is not None:
            owner = event.get("user_id")
            if not owner:
                log.warning("model_events.trained_without_user", model_id=model_id)
                return
            task = asyncio.get_running_loop().create_task(
                self._preload(model_id, str(owner))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Subscribe and handle events until cancelled, re-subscribing after errors."""
        delay = RECONNECT_MIN_SECONDS
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(MODEL_EVENTS_CHANNEL)
                self.subscribed.set()
                log.info("model_events.subscribed", channel=MODEL_EVENTS_CHANNEL)
                delay = RECONNECT_MIN_SECONDS
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=1.0
                    )
                    if message is not None and message["type"] == "message":
                        await self.handle(message["data"])
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning(
                    "model_events.disconnected",
                    channel=MODEL_EVENTS_CHANNEL,
                    error=str(exc),
                    retry_in_seconds=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError) as exc:
                    log.debug("model_events.close_failed", error=str(exc))
