"""The Redis result cache.

A key is a hash of the owner, the subject, the analyzer inputs (profile or
model metadata content), the analyzer, the OpenAI model and the prompt
version, so a changed profile, a new model or a new prompt misses. Each
subject keeps a set of its keys, so deleting a dataset or a model drops
its cached analyses too. Redis errors are logged and treated as misses: the
cache speeds the service up but is not needed to serve.
"""

import hashlib
import json
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.stdlib.get_logger(__name__)

PREFIX = "analysis"


def cache_key(
    *,
    owner: str,
    subject_type: str,
    subject_id: str,
    inputs: Any,
    analyzer: str,
    model: str | None,
    prompt_version: str,
) -> str:
    material = json.dumps(
        {
            "owner": owner,
            "subject": [subject_type, subject_id],
            "inputs": inputs,
            "analyzer": analyzer,
            "model": model,
            "prompt_version": prompt_version,
        },
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(material.encode()).hexdigest()
    return f"{PREFIX}:result:{digest}"


def _subject_key(owner: str, subject_type: str, subject_id: str) -> str:
    return f"{PREFIX}:subject:{owner}:{subject_type}:{subject_id}"


class ResultCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds

    async def ping(self) -> None:
        await self._redis.ping()

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self._redis.get(key)
        except RedisError as exc:
            log.warning("analysis.cache.read_failed", error=str(exc))
            return None
        return json.loads(raw) if raw else None

    async def put(
        self, key: str, value: dict[str, Any], subject: tuple[str, str, str]
    ) -> None:
        subject_key = _subject_key(*subject)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(key, json.dumps(value, default=str), ex=self.ttl_seconds)
                pipe.sadd(subject_key, key)
                pipe.expire(subject_key, self.ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("analysis.cache.write_failed", error=str(exc))

    async def forget_subject(self, owner: str, subject_type: str, subject_id: str):
        subject_key = _subject_key(owner, subject_type, subject_id)
        try:
            keys = await self._redis.smembers(subject_key)
            await self._redis.delete(subject_key, *keys)
        except RedisError as exc:
            log.warning(
                "analysis.cache.forget_failed",
                subject_type=subject_type,
                subject_id=subject_id,
                error=str(exc),
            )
