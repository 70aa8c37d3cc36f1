"""Fixtures for the monitoring tests: repository paths and the CLI tools."""

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
