"""Install an image's venv the way its Dockerfile does, without Docker.

The build stage of each service Dockerfile copies files into /src and runs
`uv sync` twice: first with the workspace manifests and uv.lock only, then
with the sources. `build_image_venv` replays those COPY and RUN lines in a
temporary folder, so the venv holds exactly what the image would, apart
from the Python patch release and bytecode compilation.
"""

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from .contract import REPO_ROOT
from .test_dockerfiles import instructions, stages
from .tools import find_tool

DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Match a path against .dockerignore patterns, `**/` prefixes included.

    This covers the pattern forms the project's .dockerignore uses, not the
    full Docker syntax (no `!` exceptions).
    """
    parts = relative.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatch(part, tail) for part in parts):
                return True
        elif any(
            fnmatch.fnmatch("/".join(parts[: i + 1]), pattern)
            for i in range(len(parts))
        ):
            return True
    return False


def _copy(source: Path, destination: Path, patterns: list[str]) -> None:
    """Copy a file or a tree from the repository, leaving ignored paths out."""
    if source.is_file():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        return
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if path.is_dir() or is_ignored(relative, patterns):
            continue
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def build_steps(dockerfile: str) -> list[tuple[str, list[str]]]:
    """Return the build stage's COPY and `uv sync` steps in order.

    Each step is ("copy", [sources..., destination]) or ("sync", uv arguments).
    """
    text = (REPO_ROOT / dockerfile).read_text(encoding="utf-8")
    (body,) = [b for _, name, b in stages(text) if name == "build"]
    steps = []
    for line in instructions(body):
        if line.startswith("COPY ") and "--from=" not in line:
            steps.append(("copy", shlex.split(line)[1:]))
        elif line.startswith("RUN ") and "uv sync" in line:
            arguments = line.split("uv sync", 1)[1]
            steps.append(("sync", shlex.split(arguments)))
    return steps


def build_image_venv(dockerfile: str, folder: Path, timeout_seconds: float) -> Path:
    """Replay the build stage of `dockerfile` under `folder` and return the venv."""
    context = folder / "src"
    venv = folder / "venv"
    context.mkdir(parents=True)
    patterns = ignore_patterns()
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": "3.11",
        # Bytecode compilation only makes the image start faster; skipping it
        # here keeps the test quick and installs the same files.
        "UV_COMPILE_BYTECODE": "0",
        # The cache and the temporary folder usually share a file system, so
        # hard links save copying every wheel; uv copies when they do not.
        "UV_LINK_MODE": "hardlink",
    }
    env.pop("VIRTUAL_ENV", None)
    for kind, arguments in build_steps(dockerfile):
        if kind == "copy":
            *sources, destination = arguments
            for source in sources:
                target = context / destination
                if destination.endswith("/") and not source.endswith("/"):
                    target = target / Path(source).name
                _copy(REPO_ROOT / source.rstrip("/"), target, patterns)
            continue
        result = subprocess.run(
            [find_tool("uv"), "sync", *arguments],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
        )
        assert result.returncode == 0, (
            f"{dockerfile}: uv sync {' '.join(arguments)} failed:\n{result.stderr}"
        )
    return venv


def installed_distributions(venv: Path) -> set[str]:
    """Return the normalised names of every distribution in the venv."""
    result = run_in_venv(
        venv,
        "import importlib.metadata as m; "
        "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))",
    )
    assert result.returncode == 0, result.stderr
    return {re.sub(r"[-_.]+", "-", name).lower() for name in result.stdout.split()}


def run_in_venv(venv: Path, code: str) -> subprocess.CompletedProcess:
    """Run Python code in the venv, outside the repository and its settings."""
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=venv,
        env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(venv)},
        capture_output=True,
        text=True,
        timeout=120,
    )
