"""Fixtures: the datasets app against real MongoDB and S3, and fake siblings."""

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from datasets_testing import TOKEN
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class FakeSiblings:
    """Fake training and ai-analysis endpoints that record the calls they get."""

    def __init__(self) -> None:
        self.models: dict[str, list[dict]] = {}
        # Datasets absent here get no `active_jobs` key, as before training
        # reported jobs.
        self.active_jobs: dict[str, list[dict]] = {}
        self.calls: list[tuple[str, str]] = []
        self.down = False
        self.fail_analyses_delete = False
        self.app = FastAPI()

        @self.app.get("/health")
        async def health():
            return {"status": "ok"}

        @self.app.get("/internal/v1/models")
        async def models(dataset_id: str, request: Request):
            self.calls.append(("list", dataset_id))
            body: dict = {"items": self.models.get(dataset_id, [])}
            if dataset_id in self.active_jobs:
                body["active_jobs"] = self.active_jobs[dataset_id]
            return body

        @self.app.post("/internal/v1/jobs/cancel")
        async def cancel_jobs(dataset_id: str):
            self.calls.append(("cancel_jobs", dataset_id))
            cancelled = [job["id"] for job in self.active_jobs.get(dataset_id, [])]
            self.active_jobs[dataset_id] = []
            return {"cancelled": cancelled}

        @self.app.delete("/api/v1/models/{model_id}")
        async def delete_model(model_id: str):
            self.calls.append(("delete_model", model_id))
            for items in self.models.values():
                items[:] = [item for item in items if item["id"] != model_id]
            return {}

        @self.app.delete("/internal/v1/analysis/datasets/{dataset_id}")
        async def delete_analyses(dataset_id: str):
            self.calls.append(("delete_analyses", dataset_id))
            if self.fail_analyses_delete:
                return JSONResponse({"error": "internal"}, status_code=500)
            return {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def siblings() -> Iterator[FakeSiblings]:
    fake = FakeSiblings()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="session")
async def app(infra, siblings, tmp_path_factory) -> AsyncIterator[FastAPI]:
    env = dict(infra.env)
    env.update(
        TRAINING_URL=siblings.url,
        ANALYSIS_URL=siblings.url,
        DATASETS_MAX_UPLOAD_BYTES=str(5 * 1024 * 1024),
        INTERNAL_TOKEN=TOKEN,
        LOG_FORMAT="console",
    )
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        from narrative_datasets.main import build_app
        from narrative_datasets.settings import DatasetsSettings

        application = build_app(DatasetsSettings())
        async with application.router.lifespan_context(application):
            service = application.state.datasets
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    await service.store.ensure_bucket(service.bucket)
                    await service.repository.ensure_indexes()
                    break
                except Exception:  # noqa: BLE001 - storage may still be starting
                    await asyncio.sleep(0.5)
            yield application
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://datasets.test", timeout=60
    ) as http:
        yield http
