"""Every PromQL query in the runbook, the rules and the dashboards runs on a
real Prometheus.

Prometheus is started on a free loopback port. By default every scrape job
points at a local exporter of the sample metrics; with
MONITORING_SCRAPE_STACK=1 the jobs point at the local stack's own ports
(start it first with `make stack`).
"""

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml
from prometheus_client import start_http_server
from sample_metrics import build_registry

from conftest import MONITORING_DIR, RUNBOOK_PATH
from monitoring.codegen import scrape, settings

STARTUP_TIMEOUT_SECONDS = 60
RULES_DIR = MONITORING_DIR / "prometheus" / "rules"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _query(base_url: str, expr: str) -> dict:
    params = urllib.parse.urlencode({"query": expr})
    try:
        return _get_json(f"{base_url}/api/v1/query?{params}")
    except urllib.error.HTTPError as error:
        return json.load(error)


def _runbook_queries() -> list[str]:
    text = RUNBOOK_PATH.read_text()
    return [block.strip() for block in re.findall(r"```promql\n(.*?)```", text, re.S)]


def _dashboard_queries() -> list[str]:
    queries = []
    for path in sorted((MONITORING_DIR / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            queries += [target["expr"] for target in panel.get("targets", [])]
    return queries


def _rule_queries() -> list[str]:
    queries = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            queries += [rule["expr"] for rule in group["rules"]]
    return queries


@pytest.fixture(scope="module")
def prometheus_url(prometheus_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus")
    if os.environ.get("MONITORING_SCRAPE_STACK") == "1":
        ports = None
    else:
        exporter_port = _free_port()
        start_http_server(exporter_port, addr="127.0.0.1", registry=build_registry())
        ports = {target.job: exporter_port for target in settings.SCRAPE_TARGETS}
    port = _free_port()
    config = scrape.local_config(
        ports=ports,
        alertmanager_port=_free_port(),
        rule_files=[str(RULES_DIR / "recording.yml"), str(RULES_DIR / "alerts.yml")],
    )
    # Scrape and evaluate every second so the test needs seconds, not minutes.
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"][0]["targets"] = [f"127.0.0.1:{port}"]
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))

    process = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("w"),
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_scrapes(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_scrapes(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode}")
        try:
            result = _query(base_url, "count(count_over_time(up[1m]) >= 3)")
        except OSError:
            result = {}
        samples = result.get("data", {}).get("result", [])
        if samples and int(float(samples[0]["value"][1])) == len(
            settings.SCRAPE_TARGETS
        ):
            return
        time.sleep(0.5)
    pytest.fail(f"prometheus did not scrape every target in {STARTUP_TIMEOUT_SECONDS}s")


@pytest.mark.parametrize(
    ("source", "queries"),
    [
        ("docs/runbook.md", _runbook_queries()),
        ("dashboards", _dashboard_queries()),
        ("rules", _rule_queries()),
    ],
)
def test_queries_run(prometheus_url, source, queries):
    assert queries, f"no queries found in {source}"
    failures = []
    for expr in queries:
        result = _query(prometheus_url, expr)
        if result.get("status") != "success":
            failures.append(f"{expr}: {result.get('error')}")
    assert failures == [], "\n".join(failures)


def test_contract_metrics_are_scraped(prometheus_url):
    for expr in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "ml_prediction_latency_seconds_bucket",
        "business_active_users",
    ):
        result = _query(prometheus_url, expr)
        assert result["status"] == "success", result
        assert result["data"]["result"], f"{expr} has no series"


def test_rules_loaded_without_errors(prometheus_url):
    rules = _get_json(f"{prometheus_url}/api/v1/rules")
    assert rules["status"] == "success"
    for group in rules["data"]["groups"]:
        for rule in group["rules"]:
            assert rule["health"] != "err", f"{rule['name']}: {rule.get('lastError')}"
