"""The Redis record of recently used models, read at start to preload them.

`inference:recent-models` is a sorted set of model ids scored by last use
(Unix seconds) and `inference:model-owners` a hash of model id to owner,
because loading a model needs its owner. Every inference replica writes both.
"""

import asyncio
import time

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

log = structlog.stdlib.get_logger(__name__)

RECENT_MODELS_KEY = "inference:recent-models"
MODEL_OWNERS_KEY = "inference:model-owners"


class RecentModels:
    def __init__(
        self,
        client: redis.Redis,
        *,
        write_interval_seconds: float = 1.0,
        max_tracked: int = 1000,
    ) -> None:
        self._client = client
        self._write_interval = write_interval_seconds
        self._max_tracked = max_tracked
        self._last_written: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def touch(self, model_id: str, owner: str) -> None:
        """Record a use of the model, writing to Redis at most once per interval.

        The write runs in the background so a prediction never waits on Redis.
        """
        now = time.monotonic()
        last = self._last_written.get(model_id)
        if last is not None and now - last < self._write_interval:
            return
        self._last_written[model_id] = now
        task = asyncio.get_running_loop().create_task(self._write(model_id, owner))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, model_id: str, owner: str) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zadd(RECENT_MODELS_KEY, {model_id: time.time()})
                pipe.hset(MODEL_OWNERS_KEY, model_id, owner)
                # Keep only the most recent max_tracked ids in the set; the
                # owners of trimmed ids are left in the hash and removed on
                # model.deleted.
                pipe.zremrangebyrank(RECENT_MODELS_KEY, 0, -self._max_tracked - 1)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Allow the next use to try again instead of waiting an interval.
            self._last_written.pop(model_id, None)
            log.warning("recent_models.write_failed", model_id=model_id, error=str(exc))

    async def forget(self, model_id: str) -> None:
        self._last_written.pop(model_id, None)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zrem(RECENT_MODELS_KEY, model_id)
            pipe.hdel(MODEL_OWNERS_KEY, model_id)
            await pipe.execute()

    async def most_recent(self, count: int) -> list[tuple[str, str]]:
        """Return up to `count` (model_id, owner) pairs, most recently used first."""
        if count <= 0:
            return []
        ids = await self._client.zrevrange(RECENT_MODELS_KEY, 0, count - 1)
        if not ids:
            return []
        owners = await self._client.hmget(MODEL_OWNERS_KEY, ids)
        pairs = []
        for raw_id, raw_owner in zip(ids, owners, strict=True):
            if raw_owner is None:
                continue
            pairs.append((raw_id.decode(), raw_owner.decode()))
        return pairs

    async def wait_for_writes(self) -> None:
        """Wait for the background writes in flight, e.g. before shutdown."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
