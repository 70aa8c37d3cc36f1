"""Pytest fixtures that start the real stack on free loopback ports.

`infra` starts MongoDB, Redis and S3; `stack` adds every service, the
training worker and Traefik. Both are started once per test session.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from narrative_devstack.stack import Stack, StackConfig


class Infra:
    """Running MongoDB, Redis and S3 servers and the settings that reach them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.config = stack.config
        self.env = stack.config.env()

    @contextmanager
    def settings_env(self) -> Iterator[dict[str, str]]:
        """Apply the stack's settings to os.environ for the duration of a block."""
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            yield self.env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class RunningStack(Infra):
    """The whole stack, reached through Traefik at `gateway_url`."""

    @property
    def gateway_url(self) -> str:
        return self.config.url("traefik")

    def service_url(self, name: str) -> str:
        return self.config.url(name)

    def api_key(self, user: str, role: str = "user") -> str:
        return self.stack.api_key(user, role)

    @property
    def log_dir(self) -> Path:
        return self.config.log_dir


def _dump_logs(stack: Stack) -> str:
    return "\n".join(
        f"--- {p.name} ({p.log_path}) ---\n{p.tail(30)}"
        for p in stack.processes.values()
    )


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    config = StackConfig.on_free_ports(
        tmp_path_factory.mktemp("infra"), environment="test"
    )
    stack = Stack(config)
    stack.start_infrastructure()
    try:
        yield Infra(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    config = StackConfig.on_free_ports(
        tmp_path_factory.mktemp("stack"),
        environment="test",
        # A killed worker's job is picked up after 15 s instead of a minute.
        extra_env={
            "TRAINING_HEARTBEAT_SECONDS": "2",
            "TRAINING_STALE_AFTER_SECONDS": "15",
            "TRAINING_REAPER_INTERVAL_SECONDS": "2",
        },
    )
    running = Stack(config)
    running.start()
    try:
        yield RunningStack(running)
    finally:
        failed = running.failed()
        running.stop()
        if failed:
            print(_dump_logs(running))
