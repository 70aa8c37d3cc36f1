"""The arq queue: connection and depth."""

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from redis.asyncio import ConnectionPool

from narrative_training.settings import TrainingSettings

# Depth is computed over at most this many queue entries per refresh.
MAX_COUNTED_ENTRIES = 10_000


def create_queue(settings: TrainingSettings) -> ArqRedis:
    """Return an arq client that connects lazily, so startup never waits on Redis."""
    pool = ConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    return ArqRedis(pool, default_queue_name=settings.queue_name)


async def queue_depth(queue: ArqRedis, queue_name: str) -> int:
    """Count jobs waiting in the queue; arq keeps running jobs there too."""
    job_ids = await queue.zrange(queue_name, 0, MAX_COUNTED_ENTRIES - 1)
    if not job_ids:
        return 0
    async with queue.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(in_progress_key_prefix + job_id.decode())
        running = await pipe.execute()
    return sum(1 for flag in running if not flag)
