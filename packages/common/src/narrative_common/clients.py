"""Clients for MongoDB (pymongo async), Redis (redis-py asyncio) and S3 (aioboto3).

Pool sizes and timeouts come from CommonSettings. None of the factories
connect at once, so a service starts while a dependency is down and
reconnects by itself when it comes back.
"""

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aioboto3
import redis.asyncio as redis
from botocore.config import Config
from botocore.exceptions import ClientError
from pymongo import AsyncMongoClient, monitoring
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from narrative_common.metrics import DEPENDENCY_METRICS, DependencyMetrics
from narrative_common.settings import CommonSettings


class _MongoCommandMetrics(monitoring.CommandListener):
    """Time every MongoDB command by its name, a bounded set."""

    def __init__(self, metrics: DependencyMetrics) -> None:
        self.metrics = metrics

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.metrics.duration.labels("mongodb", event.command_name).observe(
            event.duration_micros / 1e6
        )

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.metrics.duration.labels("mongodb", event.command_name).observe(
            event.duration_micros / 1e6
        )
        self.metrics.errors.labels("mongodb", "CommandFailed").inc()


def create_mongo_client(
    settings: CommonSettings,
    app_name: str,
    metrics: DependencyMetrics = DEPENDENCY_METRICS,
) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongodb_uri,
        appname=app_name,
        maxPoolSize=settings.mongodb_max_pool_size,
        minPoolSize=settings.mongodb_min_pool_size,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        socketTimeoutMS=max(settings.mongodb_timeout_ms * 6, 30_000),
        tz_aware=True,
        event_listeners=[_MongoCommandMetrics(metrics)],
    )


def mongo_check(client: AsyncMongoClient):
    """Build a health check that pings MongoDB."""

    async def check() -> None:
        await client.admin.command("ping")

    return check


def redis_check(client: redis.Redis):
    """Build a health check that pings Redis."""

    async def check() -> None:
        await client.ping()

    return check


def create_redis_client(settings: CommonSettings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        decode_responses=False,
    )


class ObjectStore:
    """A small S3 facade: whole objects and files in and out, every call timed.

    Keys are handed from service to service; bytes move only through S3.
    """

    def __init__(self, client: Any, metrics: DependencyMetrics = DEPENDENCY_METRICS):
        self._client = client
        self._metrics = metrics

    async def ensure_bucket(self, bucket: str) -> None:
        with self._metrics.track("s3", "head_bucket"):
            try:
                await self._client.head_bucket(Bucket=bucket)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in (
                    "404",
                    "NoSuchBucket",
                ):
                    raise
        with self._metrics.track("s3", "create_bucket"):
            try:
                await self._client.create_bucket(Bucket=bucket)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def ping(self, bucket: str) -> None:
        with self._metrics.track("s3", "head_bucket"):
            await self._client.head_bucket(Bucket=bucket)

    async def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> None:
        with self._metrics.track("s3", "put_object"):
            await self._client.put_object(
                Bucket=bucket, Key=key, Body=data, ContentType=content_type
            )

    async def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Upload a file in parts, never holding it whole in memory."""
        with self._metrics.track("s3", "upload_file"), path.open("rb") as handle:
            await self._client.upload_fileobj(
                handle, bucket, key, ExtraArgs={"ContentType": content_type}
            )

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        with self._metrics.track("s3", "get_object"):
            response = await self._client.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as body:
                return await body.read()

    async def get_file(self, bucket: str, key: str, path: Path) -> None:
        with self._metrics.track("s3", "download_file"), path.open("wb") as handle:
            await self._client.download_fileobj(bucket, key, handle)

    async def size(self, bucket: str, key: str) -> int | None:
        """Return the object's size in bytes, or None when it does not exist."""
        with self._metrics.track("s3", "head_object"):
            try:
                response = await self._client.head_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in (
                    "404",
                    "NoSuchKey",
                    "NotFound",
                ):
                    return None
                raise
        return int(response["ContentLength"])

    async def delete(self, bucket: str, key: str) -> None:
        """Delete one object; deleting a missing object succeeds."""
        with self._metrics.track("s3", "delete_object"):
            await self._client.delete_object(Bucket=bucket, Key=key)

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under a prefix and return how many were deleted."""
        deleted = 0
        paginator = self._client.get_paginator("list_objects_v2")
        with self._metrics.track("s3", "delete_prefix"):
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    await self._client.delete_objects(
                        Bucket=bucket, Delete={"Objects": keys, "Quiet": True}
                    )
                    deleted += len(keys)
        return deleted

    async def keys(self, bucket: str, prefix: str = "") -> list[str]:
        found: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with self._metrics.track("s3", "list_objects"):
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                found.extend(item["Key"] for item in page.get("Contents", []))
        return found


@asynccontextmanager
async def open_object_store(settings: CommonSettings) -> AsyncIterator[ObjectStore]:
    session = aioboto3.Session(
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key.get_secret_value(),
        region_name=settings.aws_region,
    )
    config = Config(
        max_pool_connections=settings.s3_max_pool_connections,
        connect_timeout=min(settings.s3_timeout_seconds, 5.0),
        read_timeout=settings.s3_timeout_seconds,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            session.client(
                "s3", endpoint_url=settings.s3_endpoint_url or None, config=config
            )
        )
        yield ObjectStore(client)


async def timed_ping(check) -> float:
    """Run an async check and return its latency in milliseconds."""
    start = time.perf_counter()
    await check()
    return (time.perf_counter() - start) * 1000
