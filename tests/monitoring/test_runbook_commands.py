"""The runbook's commands for the local stack work, run against a real stack.

The commands of the "Local stack" blocks and the profiler block run in one
bash script, in the runbook's order, with the stack's free ports in place of
the default ones. `make monitor` runs as written, with its listen address
and config pointed at that stack; `make stack` starts a stack of its own.
"""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import MONITORING_DIR, REPO_ROOT, RUNBOOK_PATH
from monitoring.codegen import scrape
from narrative_devstack.stack import DEFAULT_PORTS, PORT_NAMES

RULES_DIR = MONITORING_DIR / "prometheus" / "rules"
PROMETHEUS_DEFAULT_PORT = 9090
MARKER = "@@@ command "

# A fragment of each runbook command, and a pattern its output must match.
# A command without an entry fails the test, so a new command gets checked.
EXPECTED_OUTPUT = {
    "make stack": None,  # test_make_stack_starts_and_stops
    "make monitor": None,  # the `monitor` fixture runs it
    "/health/detailed | python3 -m json.tool": r'"status": "(ok|degraded)"',
    "/metrics | grep ml_prediction_latency": r"ml_prediction_latency_seconds_bucket",
    "/ping": r"^OK$",
    "tail -f var/log/inference.log": r'"level"',
    "make stop": r"no background stack is running",
    "KEY=$(make -s api-key USER=oncall)": r"^$",
    "ADMIN_KEY=$(make -s api-key": r"^$",
    "/api/v1/models/cache/status": r'"entries"',
    "redis-cli -p 6380 ping": r"^PONG$",
    "from pymongo import MongoClient": r"'ok': 1",
    "/healthz": r"^200$",
    "/api/v1/query?query=up": r'"status":"success".*"job":"inference"',
    "/debug/profiling/enable": r'"status":"profiling"',
    "/debug/profiling/report": r"\S",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^##+ ", text[start + len(heading) :], re.M)
    end = start + len(heading) + following.start() if following else len(text)
    return text[start:end]


def runbook_commands() -> list[str]:
    """Return the commands of the local stack's blocks and the profiler block."""
    text = RUNBOOK_PATH.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", _section(text, "### Local stack"), re.S)
    blocks += [
        block
        for block in re.findall(r"```bash\n(.*?)```", text, re.S)
        if "/debug/profiling/" in block
    ]
    commands = []
    for block in blocks:
        for line in block.splitlines():
            command = re.split(r"\s{2,}# ", line)[0].strip()
            if command:
                commands.append(command)
    return commands


def _expected(command: str) -> tuple[str, str | None]:
    for fragment, pattern in EXPECTED_OUTPUT.items():
        if fragment in command:
            return fragment, pattern
    raise KeyError(f"no expected output for the runbook command {command!r}")


def stack_env(config, data_dir: Path) -> dict[str, str]:
    """Settings that point the make targets at the given stack."""
    env = {f"STACK_PORT_{name.upper()}": str(config.ports[name]) for name in PORT_NAMES}
    env["STACK_DATA_DIR"] = str(data_dir)
    env["STACK_INTERNAL_TOKEN"] = config.internal_token
    return env


def localize(command: str, ports: dict[str, int], log_dir: Path) -> str:
    """Put the stack's real ports and log folder in place of the defaults."""
    for name, default in DEFAULT_PORTS.items():
        real = ports[name]
        command = re.sub(
            rf"(localhost|127\.0\.0\.1):{default}\b", f"127.0.0.1:{real}", command
        )
        command = re.sub(rf"(?<=-p ){default}\b", str(real), command)
    command = re.sub(
        rf"(localhost|127\.0\.0\.1):{PROMETHEUS_DEFAULT_PORT}\b",
        f"127.0.0.1:{ports['prometheus']}",
        command,
    )
    command = command.replace("var/log/", f"{log_dir}/")
    return command.replace("tail -f ", "tail -n 3 ")


def _start_make_monitor(port: int, config: Path, data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "make",
            "-s",
            "monitor",
            f"PROMETHEUS_LISTEN=127.0.0.1:{port}",
            f"PROMETHEUS_CONFIG={config}",
            f"PROMETHEUS_DATA_DIR={data_dir}",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop_group(process: subprocess.Popen) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=10)
    return output


def _wait_http(url: str, timeout_seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer 200 in {timeout_seconds} s")


@pytest.fixture(scope="module")
def monitor(monitored_stack, tmp_path_factory):
    """`make monitor` on a free port, scraping the monitored stack."""
    from promql import job_ports

    workdir = tmp_path_factory.mktemp("make-monitor")
    port = _free_port()
    config = scrape.local_config(
        ports={**job_ports(monitored_stack.config.ports), "prometheus": port},
        rule_files=[str(RULES_DIR / "recording.yml"), str(RULES_DIR / "alerts.yml")],
    )
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = _start_make_monitor(port, config_path, workdir / "data")
    try:
        _wait_http(f"http://127.0.0.1:{port}/-/ready", 60, process)
        yield port
    finally:
        _stop_group(process)


def test_every_runbook_command_has_a_check():
    commands = runbook_commands()

    assert len(commands) >= 10
    for command in commands:
        _expected(command)


def test_runbook_commands_work(monitored_stack, loaded, monitor, tmp_path):
    ports = {**monitored_stack.config.ports, "prometheus": monitor}
    commands = runbook_commands()
    # Let Prometheus scrape every target once before its query runs.
    deadline = time.monotonic() + 30
    query = f"http://127.0.0.1:{monitor}/api/v1/query?query=count(up==1)"
    while time.monotonic() < deadline:
        result = httpx.get(query, timeout=5).json()["data"]["result"]
        if result and result[0]["value"][1] == "8":
            break
        time.sleep(0.5)
    lines = ["set -euo pipefail"]
    for index, command in enumerate(commands):
        fragment, pattern = _expected(command)
        # The newline first: some commands print no final newline.
        lines.append(f"printf '\\n{MARKER}{index}\\n'")
        if pattern is not None:
            lines.append(localize(command, ports, monitored_stack.log_dir))
    script = tmp_path / "runbook.sh"
    script.write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        **stack_env(monitored_stack.config, tmp_path / "var"),
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
    }

    result = subprocess.run(
        ["bash", str(script)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = re.split(rf"^{MARKER}(\d+)\n", result.stdout, flags=re.M)[1:]
    by_index = {int(outputs[i]): outputs[i + 1] for i in range(0, len(outputs), 2)}
    for index, command in enumerate(commands):
        _, pattern = _expected(command)
        if pattern is None:
            continue
        output = by_index[index].strip()
        assert re.search(pattern, output, re.M | re.S), (command, output[:500])


def test_make_monitor_scrapes_the_stack(monitor):
    targets = httpx.get(f"http://127.0.0.1:{monitor}/api/v1/targets", timeout=5)
    assert targets.status_code == 200
    jobs = {t["labels"]["job"] for t in targets.json()["data"]["activeTargets"]}
    assert jobs == {job["job_name"] for job in scrape.local_config()["scrape_configs"]}
    rules = httpx.get(f"http://127.0.0.1:{monitor}/api/v1/rules", timeout=5).json()
    assert len(rules["data"]["groups"]) >= 4


def test_make_monitor_default_config_is_valid(promtool):
    """`make monitor` without arguments reads prometheus.local.yml on the
    default ports; promtool checks it and the rule files it names."""
    config = MONITORING_DIR / "prometheus" / "prometheus.local.yml"
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dry_run = subprocess.run(
        ["make", "-n", "monitor"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert "--web.listen-address=127.0.0.1:9090" in dry_run.stdout
    assert f"--config.file={config.relative_to(REPO_ROOT)}" in dry_run.stdout
    assert "--storage.tsdb.path=var/prometheus" in dry_run.stdout


def test_make_stack_starts_and_stops(tmp_path):
    """`make stack` on free ports serves the gateway, then stops on Ctrl-C."""
    from narrative_devstack.stack import StackConfig

    config = StackConfig.on_free_ports(tmp_path / "var")
    env = {**os.environ, **stack_env(config, tmp_path / "var")}
    process = subprocess.Popen(
        ["make", "-s", "stack"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_http(f"{config.url('traefik')}/health", 180, process)
        health = httpx.get(f"{config.url('traefik')}/health/detailed", timeout=30)
        assert health.status_code == 200, health.text
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate(timeout=10)
    assert "[stack] stopped" in output, output[-2000:]
