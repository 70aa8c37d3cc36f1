"""Child processes of the stack: start, wait until ready, stop the whole group."""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ReadyCheck = Callable[[], bool]


class StackError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    """One long-running program with its own log file and readiness check."""

    name: str
    command: list[str]
    log_path: Path
    ready: ReadyCheck
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # Seconds between SIGTERM and SIGKILL.
    stop_timeout_seconds: float = 15.0
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        # A session of its own lets stop() signal the process and its children
        # together, and keeps the terminal's Ctrl-C from reaching it directly.
        self.popen = subprocess.Popen(
            self.command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,
        )
        log_file.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def wait_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                raise StackError(
                    f"{self.name} exited with code {code} before it was ready; "
                    f"see {self.log_path}:\n{self.tail()}"
                )
            try:
                if self.ready():
                    return
            except Exception:  # noqa: BLE001 - not ready yet
                pass
            time.sleep(0.2)
        raise StackError(
            f"{self.name} was not ready after {timeout_seconds:g} s; "
            f"see {self.log_path}:\n{self.tail()}"
        )

    def stop(self, timeout_seconds: float | None = None) -> None:
        """Send SIGTERM to the process group, then SIGKILL after the timeout."""
        if timeout_seconds is None:
            timeout_seconds = self.stop_timeout_seconds
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        # Children that outlived their leader are still in the group.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """Kill the process group at once, as a crash would."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
