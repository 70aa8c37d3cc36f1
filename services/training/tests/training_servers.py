"""Processes and fakes the API tests run against: the training API and worker
as real subprocesses, and a fake datasets service in a thread."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_seconds} s")


class Process:
    """A subprocess with its log in a file, stopped by its own pid only."""

    def __init__(self, command: list[str], env: dict, log_path: Path) -> None:
        self.command, self.env, self.log_path = command, env, log_path
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def api_process(env: dict, port: int, log_dir: Path) -> Process:
    command = [
        sys.executable, "-m", "uvicorn", "narrative_training.main:app",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    return Process(command, env, log_dir / "training-api.log")


def worker_process(env: dict, log_dir: Path) -> Process:
    command = [sys.executable, "-m", "narrative_training.worker"]
    return Process(command, env, log_dir / "training-worker.log")


class FakeDatasets:
    """The datasets service's internal lookup, serving registered datasets."""

    def __init__(self) -> None:
        self.datasets: dict[str, dict] = {}
        self.port = free_port()
        app = FastAPI()

        @app.get("/health")
        async def health() -> dict:
            return {"status": "ok"}

        @app.get("/internal/v1/datasets/{dataset_id}")
        async def get_dataset(dataset_id: str, x_user_id: str = Header("")):
            entry = self.datasets.get(dataset_id)
            if entry is None or entry["owner"] != x_user_id:
                return JSONResponse(
                    {"error": "dataset_not_found", "message": "not found"}, 404
                )
            return entry["body"]

        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        wait_http(f"{self.url}/health", 20)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def register(self, dataset_id: str, owner: str, body: dict) -> None:
        self.datasets[dataset_id] = {"owner": owner, "body": body}

    def unregister(self, dataset_id: str) -> None:
        self.datasets.pop(dataset_id, None)


def child_env(base: dict, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(base)
    env.update(extra)
    return env
