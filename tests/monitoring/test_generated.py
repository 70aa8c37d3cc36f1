"""Generated files match the code, and dashboards follow the conventions."""

import json
import subprocess

import pytest
import yaml

from conftest import MONITORING_DIR

pytest.importorskip(
    "grafana_foundation_sdk",
    reason="grafana-foundation-sdk is missing: add it to the dev dependency group",
)

from monitoring.codegen import scrape, settings  # noqa: E402
from monitoring.codegen.__main__ import stale_files  # noqa: E402

DASHBOARDS_DIR = MONITORING_DIR / "grafana" / "dashboards"


def _dashboards() -> list[dict]:
    return [
        json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    ]


def _panels(board: dict) -> list[dict]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def test_generated_files_match_code():
    stale = stale_files()
    assert stale == [], f"stale generated files, run `make dashboards`: {stale}"


def test_dashboard_uids():
    uids = {board["uid"] for board in _dashboards()}
    expected = {"system-health", "ml-operations", "business-metrics"}
    expected |= {f"service-{name}" for name in settings.APP_SERVICES}
    assert uids == expected


def test_every_panel_has_unit_and_datasource_variable():
    for board in _dashboards():
        variables = [v["name"] for v in board["templating"]["list"]]
        assert "datasource" in variables, board["uid"]
        for panel in _panels(board):
            where = f"{board['uid']}: {panel['title']}"
            assert panel["fieldConfig"]["defaults"].get("unit"), where
            assert panel["datasource"]["uid"] == "${datasource}", where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", where
                assert target["expr"], where


def test_local_config_uses_given_ports(promtool, tmp_path):
    ports = {
        target.job: 20000 + index
        for index, target in enumerate(settings.SCRAPE_TARGETS)
    }
    config = scrape.local_config(ports=ports, rule_files=[])
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0]
        for job in config["scrape_configs"]
    }
    assert targets == {job: f"127.0.0.1:{port}" for job, port in ports.items()}


def test_local_config_rejects_unknown_job():
    with pytest.raises(ValueError, match="unknown scrape jobs"):
        scrape.local_config(ports={"backend": 8000})


def test_cluster_config_uses_service_names(promtool):
    path = MONITORING_DIR / "prometheus" / "prometheus.yml"
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(path.read_text())
    names = {
        job["job_name"]: job["dns_sd_configs"][0]["names"][0]
        for job in config["scrape_configs"]
        if "dns_sd_configs" in job
    }
    assert names["inference"] == "narrative-inference"
    assert names["training-worker"] == "narrative-training-worker"
    assert names["traefik"] == "narrative-traefik"
    assert len(names) == len(settings.SCRAPE_TARGETS) - 1
