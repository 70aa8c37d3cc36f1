"""Fixtures for the monitoring tests: paths, CLI tools and a stack of their own."""

import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MONITORING_DIR = REPO_ROOT / "monitoring"
RUNBOOK_PATH = REPO_ROOT / "docs" / "runbook.md"


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH; install it with `make monitoring-tools`")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _require_tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _require_tool("amtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return _require_tool("prometheus")


# The live stack ---------------------------------------------------------------

# Small, so that a few dozen ids show the bound on id labels.
MAX_TRACKED_IDS = 5


@pytest.fixture(scope="session")
def fake_openai():
    from live import FakeOpenAI

    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def monitored_stack(tmp_path_factory, fake_openai):
    """A stack of its own, so these tests can stop its parts without
    disturbing other tests, with id labels bounded to MAX_TRACKED_IDS."""
    from narrative_devstack.pytest_plugin import RunningStack
    from narrative_devstack.stack import Stack, StackConfig

    config = StackConfig.on_free_ports(
        tmp_path_factory.mktemp("monitored-stack"),
        environment="test",
        extra_env={
            "METRICS_MAX_TRACKED_IDS": str(MAX_TRACKED_IDS),
            "OPENAI_API_KEY": "sk-local-test",
            "OPENAI_BASE_URL": fake_openai.url,
            "ANALYSIS_OPENAI_MAX_ATTEMPTS": "2",
            "ANALYSIS_OPENAI_BACKOFF_INITIAL_SECONDS": "0.05",
            "ANALYSIS_OPENAI_BACKOFF_MAX_SECONDS": "0.1",
        },
    )
    stack = Stack(config)
    stack.start()
    try:
        yield RunningStack(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def loaded(monitored_stack) -> dict:
    """130 users with a dataset each, MAX_TRACKED_IDS + 2 models, predictions."""
    from live import bulk_load

    return bulk_load(monitored_stack, users=130, models=MAX_TRACKED_IDS + 2)
