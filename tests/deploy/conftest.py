import subprocess

import pytest
import yaml

from .contract import REPO_ROOT
from .tools import find_tool


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "image_venv: installs an image's venv with uv as its Dockerfile does",
    )


OVERLAYS = {"base": "k8s/base", "production": "k8s/overlays/production"}


def render_kustomization(path: str) -> list[dict]:
    """Render a kustomization with `kubectl kustomize` and parse every object."""
    result = subprocess.run(
        [find_tool("kubectl"), "kustomize", path],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]


@pytest.fixture(scope="session", params=sorted(OVERLAYS))
def rendered(request) -> list[dict]:
    """Objects of the base and of the production overlay, one run each."""
    return render_kustomization(OVERLAYS[request.param])


@pytest.fixture(scope="session")
def production() -> list[dict]:
    return render_kustomization(OVERLAYS["production"])
