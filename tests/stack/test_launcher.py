"""The stack launcher: restarts keep data, signals leave no process behind."""

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from narrative_devstack.stack import Stack, StackConfig


def _alive(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    return process.status() != psutil.STATUS_ZOMBIE


def test_restart_keeps_keys_and_leaves_no_process(tmp_path):
    config = StackConfig.on_free_ports(tmp_path, services=("gateway",))
    stack = Stack(config).start()
    key = stack.api_key("carol")
    pids = [p.pid for p in stack.processes.values()]
    children = [
        c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)
    ]
    stack.stop()

    assert not [pid for pid in pids + children if _alive(pid)]

    again = Stack(config).start()
    try:
        response = httpx.get(
            f"{config.url('traefik')}/api/v1/unknown", headers={"X-API-Key": key}
        )
        assert response.status_code == 404
    finally:
        again.stop()


def test_sigterm_stops_the_foreground_stack(tmp_path):
    config = StackConfig.on_free_ports(tmp_path)
    env = {
        f"STACK_PORT_{name.upper()}": str(port) for name, port in config.ports.items()
    }
    env["STACK_DATA_DIR"] = str(tmp_path / "var")
    process = subprocess.Popen(
        [sys.executable, "-m", "narrative_devstack.cli", "up"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 180
    output = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output.append(line)
        if "traefik ready" in line or process.poll() is not None:
            break
    assert any("traefik ready" in line for line in output), "".join(output)
    descendants = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
    assert len(descendants) >= 5

    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the stack did not stop within 60 s of SIGTERM")

    assert process.returncode == 0
    time.sleep(1)
    assert not [pid for pid in descendants if _alive(pid)]
    for name in ("mongodb", "redis", "s3", "gateway", "traefik"):
        assert (tmp_path / "var" / "log" / f"{name}.log").exists(), name
