"""Run the local stack in the background for `make demo`, and stop it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from narrative_devstack.cli import StackSettings


def _pid_file(settings: StackSettings) -> Path:
    return settings.data_dir.resolve() / "stack.pid"


def gateway_url(settings: StackSettings) -> str:
    return f"http://127.0.0.1:{settings.port_traefik}"


def is_up(settings: StackSettings) -> bool:
    try:
        return (
            httpx.get(f"{gateway_url(settings)}/health", timeout=2).status_code == 200
        )
    except httpx.HTTPError:
        return False


def start(settings: StackSettings, timeout_seconds: float = 300, say=print) -> None:
    """Start `narrative-stack up` detached and wait until the gateway responds."""
    data_dir = settings.data_dir.resolve()
    (data_dir / "log").mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "log" / "stack.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "narrative_devstack.cli", "up"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _pid_file(settings).write_text(str(process.pid))
    deadline = time.monotonic() + timeout_seconds
    shown = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the stack exited with code {process.returncode}; see {log_path}"
            )
        if is_up(settings):
            return
        lines = log_path.read_text(errors="replace").splitlines()
        if lines and lines[-1] != shown:
            shown = lines[-1]
            say(f"  {shown}")
        time.sleep(0.5)
    raise RuntimeError(
        f"the stack was not up after {timeout_seconds:g} s; see {log_path}"
    )


def stop(settings: StackSettings, timeout_seconds: float = 60) -> bool:
    """Send SIGTERM to a background stack and wait for it to exit."""
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink()
        return False
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    pid_file.unlink(missing_ok=True)
    return True


def main(argv: list[str]) -> int:
    settings = StackSettings()
    if argv[:1] == ["stop"]:
        print("stopped" if stop(settings) else "no background stack is running")
        return 0
    print("usage: python -m narrative_devstack.background stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
