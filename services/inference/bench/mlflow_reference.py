"""Serve the benchmark's scikit-learn pipeline with `mlflow models serve`.

MLflow is installed into its own virtualenv (reused between runs) with uv,
so it never enters the workspace's lock file. When installing or serving
fails, the caller reports the reason instead of a number.
"""

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

VENV = Path(tempfile.gettempdir()) / "narrative-bench-mlflow"
INSTALL_TIMEOUT_SECONDS = 600
SERVE_TIMEOUT_SECONDS = 180


def ensure_mlflow(sklearn_version: str) -> Path:
    """Return the virtualenv's python with mlflow installed, or raise RuntimeError."""
    python = VENV / "bin" / "python"
    if python.exists():
        check = subprocess.run(
            [str(python), "-c", "import mlflow, sklearn"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if check.returncode == 0:
            return python
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH, so mlflow cannot be installed")
    steps = [
        [uv, "venv", "--quiet", "--python", sys.executable, str(VENV)],
        [
            uv, "pip", "install", "--quiet", "--python", str(python),
            "mlflow", f"scikit-learn=={sklearn_version}", "pandas",
        ],
    ]  # fmt: skip
    for step in steps:
        result = subprocess.run(
            step,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(step[:3])}` failed: {result.stderr.strip()[-500:]}"
            )
    return python


def save_model(python: Path, pipeline: object, directory: Path) -> Path:
    """Save the pipeline as an MLflow model with the virtualenv's mlflow."""
    pickled = directory / "pipeline.pkl"
    pickled.write_bytes(pickle.dumps(pipeline))
    model_dir = directory / "mlflow-model"
    shutil.rmtree(model_dir, ignore_errors=True)
    code = (
        "import pickle, sys, mlflow.sklearn\n"
        "pipeline = pickle.load(open(sys.argv[1], 'rb'))\n"
        "mlflow.sklearn.save_model(pipeline, sys.argv[2], "
        "serialization_format='cloudpickle')\n"
    )
    result = subprocess.run(
        [str(python), "-c", code, str(pickled), str(model_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"saving the MLflow model failed: {result.stderr[-500:]}")
    return model_dir


def serve(python: Path, model_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    """Start `mlflow models serve` and wait until /ping responds."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(python),
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        # The scoring server is started as `uvicorn` from PATH, which must be
        # the virtualenv's, since only that one can import mlflow.
        env={
            **os.environ,
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        start_new_session=True,
    )
    deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mlflow models serve exited with {process.returncode}; see {log_path}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(
        f"mlflow models serve did not respond on /ping within {SERVE_TIMEOUT_SECONDS} s"
    )
