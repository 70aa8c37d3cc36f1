"""Count active users per day in Redis HyperLogLogs and export the windows."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
import structlog

from narrative_gateway.metrics import ACTIVE_USERS

log = structlog.stdlib.get_logger(__name__)

WINDOWS_DAYS = {"day": 1, "week": 7, "month": 30}
KEY_TTL_SECONDS = 40 * 24 * 3600
# A user is written to Redis at most once a minute per process, so the
# request path rarely waits on Redis.
RECORD_INTERVAL_SECONDS = 60.0


def day_key(day: datetime) -> str:
    return f"gateway:active-users:{day:%Y%m%d}"


class ActivityTracker:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._recorded: dict[str, float] = {}
        self._pending: set[asyncio.Task] = set()

    def record(self, user_id: str) -> None:
        """Note the user's activity without making the request wait for Redis."""
        now = time.monotonic()
        if (
            now - self._recorded.get(user_id, -RECORD_INTERVAL_SECONDS)
            < RECORD_INTERVAL_SECONDS
        ):
            return
        self._recorded[user_id] = now
        if len(self._recorded) > 100_000:
            self._recorded.clear()
        task = asyncio.get_running_loop().create_task(self._write(user_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, user_id: str) -> None:
        key = day_key(datetime.now(UTC))
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.pfadd(key, user_id)
                pipe.expire(key, KEY_TTL_SECONDS)
                await pipe.execute()
        except redis.RedisError as exc:
            self._recorded.pop(user_id, None)
            log.warning("gateway.activity.write_failed", error=str(exc))

    async def counts(self) -> dict[str, int]:
        today = datetime.now(UTC)
        result = {}
        for window, days in WINDOWS_DAYS.items():
            keys = [day_key(today - timedelta(days=offset)) for offset in range(days)]
            result[window] = await self.client.pfcount(*keys)
        return result

    async def refresh_forever(self, interval_seconds: float) -> None:
        while True:
            try:
                for window, count in (await self.counts()).items():
                    ACTIVE_USERS.labels(window).set(count)
            except redis.RedisError as exc:
                log.warning("gateway.activity.refresh_failed", error=str(exc))
            await asyncio.sleep(interval_seconds)
