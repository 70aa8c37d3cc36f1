"""Small HTTP servers for tests, run by uvicorn in a thread on 127.0.0.1.

`FakeOpenAI` serves the chat-completions API and replies from a script
(normal replies, 429 with Retry-After, 500, slow replies, malformed JSON),
recording every request it receives. `FakeOwners` plays the datasets and
training services' internal routes, answering 404 for another user's ids.
"""

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadedServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ThreadedServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start within 10 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


@dataclass
class Reply:
    """One scripted response: a status, a body (JSON text) and headers, after a delay."""

    status: int = 200
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    raw_body: str | None = None


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.default = Reply(
            status=500, raw_body='{"error": {"message": "unscripted"}}'
        )
        self.requests: list[dict[str, Any]] = []
        self.request_times: list[float] = []
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            self.requests.append(await request.json())
            self.request_times.append(time.monotonic())
            reply = self.script.pop(0) if self.script else self.default
            if reply.delay_seconds:
                await asyncio.sleep(reply.delay_seconds)
            if reply.raw_body is not None:
                return JSONResponse(
                    json.loads(reply.raw_body), reply.status, headers=reply.headers
                )
            return JSONResponse(
                completion(reply.content or ""), reply.status, headers=reply.headers
            )

        self.server = ThreadedServer(app)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    def reset(self, *replies: Reply) -> None:
        self.script = list(replies)
        self.requests.clear()
        self.request_times.clear()

    def prompts(self) -> str:
        """Return every message text sent so far, joined, for privacy checks."""
        return "\n".join(
            str(message.get("content"))
            for body in self.requests
            for message in body.get("messages", [])
        )


def rate_limited(retry_after: str) -> Reply:
    return Reply(
        status=429,
        raw_body='{"error": {"message": "rate limited", "type": "rate_limit"}}',
        headers={"retry-after": retry_after},
    )


def server_error() -> Reply:
    return Reply(status=500, raw_body='{"error": {"message": "boom"}}')


class FakeOwners:
    """The datasets and training internal routes, with per-user ownership."""

    def __init__(self) -> None:
        # (user, id) -> (metadata, profile) for datasets, metadata for models.
        self.datasets: dict[tuple[str, str], tuple[dict, dict]] = {}
        self.models: dict[tuple[str, str], dict] = {}
        app = FastAPI()

        def not_found(kind: str, item_id: str) -> JSONResponse:
            return JSONResponse(
                {
                    "error": f"{kind}_not_found",
                    "message": f"{kind} {item_id} not found",
                },
                404,
            )

        @app.get("/health")
        async def health():
            return {"status": "ok"}

        @app.get("/internal/v1/datasets/{dataset_id}")
        async def dataset(dataset_id: str, request: Request):
            found = self.datasets.get((request.headers.get("x-user-id"), dataset_id))
            return found[0] if found else not_found("dataset", dataset_id)

        @app.get("/internal/v1/datasets/{dataset_id}/profile")
        async def profile(dataset_id: str, request: Request):
            found = self.datasets.get((request.headers.get("x-user-id"), dataset_id))
            return found[1] if found else not_found("dataset", dataset_id)

        @app.get("/internal/v1/models/{model_id}")
        async def model(model_id: str, request: Request):
            found = self.models.get((request.headers.get("x-user-id"), model_id))
            return found if found else not_found("model", model_id)

        self.server = ThreadedServer(app)
