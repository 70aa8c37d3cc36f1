"""Model events over real Redis, preload at start, and recovery after an outage."""

import asyncio
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis.asyncio as redis
from inference_helpers import json_rows
from test_inference_cache import ALICE, FakeLoader, make_cache

from conftest import CLASSIFIER_ID, OWNER, REGRESSOR_ID, inference_settings
from narrative_inference.main import build_app
from narrative_inference.models.events import MODEL_EVENTS_CHANNEL, ModelEventListener
from narrative_inference.models.recent import MODEL_OWNERS_KEY, RECENT_MODELS_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, directory: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(directory),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not listen on port {port} within 10 s")


async def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_listener_resubscribes_after_redis_restart(tmp_path):
    port = free_port()
    server = start_redis(port, tmp_path)
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=2)
    loader = FakeLoader()
    cache, _ = make_cache(loader)
    for model_id in ("a", "b"):
        await cache.get(model_id, ALICE)
    listener = ModelEventListener(client, cache)
    task = asyncio.create_task(listener.run())
    try:
        assert await wait_until(listener.subscribed.is_set)
        deleted_a = json.dumps({"event": "model.deleted", "model_id": "a"})
        await client.publish(MODEL_EVENTS_CHANNEL, deleted_a)
        assert await wait_until(lambda: "a" not in cache)

        server.terminate()
        server.wait(timeout=10)
        assert await wait_until(lambda: not listener.subscribed.is_set())
        server = start_redis(port, tmp_path)
        assert await wait_until(listener.subscribed.is_set, seconds=30)

        deleted_b = json.dumps({"event": "model.deleted", "model_id": "b"})
        await client.publish(MODEL_EVENTS_CHANNEL, deleted_b)
        assert await wait_until(lambda: "b" not in cache)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        server.terminate()
        server.wait(timeout=10)


async def test_deleted_event_evicts_from_running_app(api, owner_headers, telco, infra):
    row = json_rows(telco.held_out.head(1), telco)[0]
    path = f"/api/v1/models/{CLASSIFIER_ID}/predict"
    response = await api.post(path, json={"record": row}, headers=owner_headers)
    assert response.status_code == 200
    cache = api.app.state.cache
    assert CLASSIFIER_ID in cache
    assert await wait_until(api.app.state.events.subscribed.is_set)

    client = redis.Redis.from_url(infra.env["REDIS_URL"])
    try:
        event = {"event": "model.deleted", "model_id": CLASSIFIER_ID, "user_id": OWNER}
        await client.publish(MODEL_EVENTS_CHANNEL, json.dumps(event))
        assert await wait_until(lambda: CLASSIFIER_ID not in cache)
        assert await client.zscore(RECENT_MODELS_KEY, CLASSIFIER_ID) is None
    finally:
        await client.aclose()


async def test_startup_preloads_recent_models(infra, published_models):
    client = redis.Redis.from_url(infra.env["REDIS_URL"])
    await client.zadd(RECENT_MODELS_KEY, {REGRESSOR_ID: time.time() + 3600})
    await client.hset(MODEL_OWNERS_KEY, REGRESSOR_ID, OWNER)
    settings = inference_settings(infra, published_models.url)
    settings.preload_count = 1
    app = build_app(settings)
    try:
        async with app.router.lifespan_context(app):
            preload = app.state.preload
            assert await wait_until(lambda: preload.state == "done", seconds=60)
            assert preload.loaded == 1
            assert REGRESSOR_ID in app.state.cache
            entry = app.state.cache._entries[REGRESSOR_ID]
            assert entry.warmup_ms > 0
    finally:
        await client.zrem(RECENT_MODELS_KEY, REGRESSOR_ID)
        await client.aclose()
