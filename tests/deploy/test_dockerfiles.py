"""Lint the Dockerfiles with hadolint and check them against the contract."""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from .contract import REPO_ROOT, load_services
from .tools import find_tool

SERVICES = load_services()
# Dockerfile -> the Deployment name of the image its default target builds.
DOCKERFILES = {
    "services/gateway/Dockerfile": "narrative-gateway",
    "services/datasets/Dockerfile": "narrative-datasets",
    "services/training/Dockerfile": "narrative-training",
    "services/training/Dockerfile.worker": "narrative-training-worker",
    "services/inference/Dockerfile": "narrative-inference",
    "services/ai-analysis/Dockerfile": "narrative-ai-analysis",
}
PINNED_SLIM_PYTHON = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?$")
COMPILERS = ("gcc", "g++", "build-essential", "clang", "cc ")


def run_hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [find_tool("hadolint"), "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def stages(text: str) -> list[tuple[str, str, str]]:
    """Split a Dockerfile into (image, stage name, body) per FROM line."""
    parts = re.split(r"^FROM\s+", text, flags=re.MULTILINE)[1:]
    result = []
    for part in parts:
        header, _, body = part.partition("\n")
        image, _, name = header.partition(" AS ")
        result.append((image.strip(), name.strip(), body))
    return result


def instructions(body: str) -> list[str]:
    """Join continuation lines and drop comments."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def package_name(folder: str) -> str:
    manifest = tomllib.loads((REPO_ROOT / folder / "pyproject.toml").read_text())
    return manifest["project"]["name"]


@pytest.fixture(params=sorted(DOCKERFILES))
def dockerfile(request) -> tuple[str, str]:
    path = request.param
    return path, (REPO_ROOT / path).read_text(encoding="utf-8")


def test_hadolint_passes(dockerfile):
    path, _ = dockerfile
    result = run_hadolint(REPO_ROOT / path)
    assert result.returncode == 0, f"hadolint {path}:\n{result.stdout}{result.stderr}"


def test_hadolint_rejects_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag


def test_runtime_stage_is_pinned_slim_python(dockerfile):
    path, text = dockerfile
    image, name, _ = stages(text)[-1]
    assert name == "runtime", f"{path}: the last (default) stage is {name!r}"
    assert PINNED_SLIM_PYTHON.match(image), f"{path}: runtime image {image}"


def test_runtime_stage_has_no_compiler(dockerfile):
    path, text = dockerfile
    _, _, body = stages(text)[-1]
    for line in instructions(body):
        assert "apt-get install" not in line, (
            f"{path}: runtime installs packages: {line}"
        )
        assert not line.startswith("COPY --from=uv"), f"{path}: uv in the runtime image"
        for compiler in COMPILERS:
            assert compiler not in line, (
                f"{path}: {compiler.strip()} in runtime: {line}"
            )
    copies = [line for line in instructions(body) if line.startswith("COPY")]
    assert copies == ["COPY --from=build /app/.venv /app/.venv"], path


def test_runtime_user_is_not_root(dockerfile):
    path, text = dockerfile
    _, _, body = stages(text)[-1]
    users = [line.split()[1] for line in instructions(body) if line.startswith("USER ")]
    assert users, f"{path}: runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid not in ("0", "root"), f"{path}: runs as {users[-1]}"


def test_build_syncs_only_its_package(dockerfile):
    path, text = dockerfile
    service = SERVICES[DOCKERFILES[path]]
    expected = package_name(service.folder)
    syncs = re.findall(r"uv sync ([^\n]+)", text)
    assert len(syncs) == 2, f"{path}: expected a dependency sync and a project sync"
    for sync in syncs:
        assert "--frozen" in sync, f"{path}: {sync}"
        assert "--no-dev" in sync, f"{path}: {sync}"
        assert f"--package {expected}" in sync, f"{path}: {sync} is not for {expected}"


def test_healthcheck_hits_served_path(dockerfile):
    path, text = dockerfile
    service = SERVICES[DOCKERFILES[path]]
    _, _, body = stages(text)[-1]
    checks = [line for line in instructions(body) if line.startswith("HEALTHCHECK")]
    assert len(checks) == 1, f"{path}: expected one HEALTHCHECK"
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\"]*)", checks[0])
    assert url, f"{path}: HEALTHCHECK calls no local URL: {checks[0]}"
    assert int(url.group(1)) in service.ports, f"{path}: port {url.group(1)}"
    assert url.group(2) == "/health", f"{path}: path {url.group(2)}"
    assert "urllib.request" in checks[0], f"{path}: check does not use urllib"


def test_command_starts_the_contract_module(dockerfile):
    path, text = dockerfile
    service = SERVICES[DOCKERFILES[path]]
    _, _, body = stages(text)[-1]
    (command,) = [line for line in instructions(body) if line.startswith("CMD ")]
    if service.name == "narrative-training-worker":
        assert '"-m", "narrative_training.worker"' in command
    else:
        assert f'"{service.package}.main:app"' in command, command
        assert f'"--port", "{service.ports[0]}"' in command, command


def test_traefik_target_uses_project_config():
    text = (REPO_ROOT / "services/gateway/Dockerfile").read_text()
    (traefik,) = [s for s in stages(text) if s[1] == "traefik"]
    image, _, body = traefik
    assert re.match(r"^traefik:v\d+\.\d+\.\d+$", image), image
    lines = instructions(body)
    assert "COPY services/gateway/traefik/ /etc/traefik/" in lines
    (check,) = [line for line in lines if line.startswith("HEALTHCHECK")]
    assert "127.0.0.1:8082/metrics" in check


def locked_packages(package: str) -> set[str]:
    """Return the third-party packages uv.lock installs for one workspace package."""
    result = subprocess.run(
        [
            find_tool("uv"),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-workspace",
            "--package",
            package,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {
        re.split(r"[=<>;\s]", line, maxsplit=1)[0].lower()
        for line in result.stdout.splitlines()
        if line and not line.startswith((" ", "#", "-"))
    }


def test_inference_image_has_no_scikit_learn():
    inference = locked_packages("narrative-inference")
    assert "onnxruntime" in inference
    assert "scikit-learn" not in inference
    assert "scikit-learn" in locked_packages("narrative-training")
