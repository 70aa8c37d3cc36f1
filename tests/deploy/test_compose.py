"""Check docker-compose.prod.yml with `docker-compose config` and the contract."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .contract import REPO_ROOT, RUNBOOK_CONTAINERS, load_services
from .tools import find_tool

COMPOSE_FILE = REPO_ROOT / "docker-compose.prod.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SERVICES = load_services()
# Compose service name -> the name in the architecture doc's services table.
APP_SERVICES = {
    "traefik": "narrative-traefik",
    "gateway": "narrative-gateway",
    "datasets": "narrative-datasets",
    "training": "narrative-training",
    "training-worker": "narrative-training-worker",
    "inference": "narrative-inference",
    "ai-analysis": "narrative-ai-analysis",
}
# Services whose state must outlive the container, and where it lives.
DATA_PATHS = {
    "mongodb": "/data/db",
    "redis": "/data",
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana",
    "localstack": "/var/lib/localstack",
}


def compose_config(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            find_tool("docker-compose"),
            "--project-directory",
            str(REPO_ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
            "config",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def parse_volume(volume) -> tuple[str, str, str]:
    """Return (type, source, target) of a short or long volume entry.

    docker-compose 1.29 prints the short form, Compose v2 the long form.
    """
    if isinstance(volume, dict):
        return volume["type"], volume["source"], volume["target"]
    source, target = volume.split(":")[:2]
    return ("bind" if source.startswith("/") else "volume"), source, target


@pytest.fixture(scope="module")
def config() -> dict:
    """The resolved compose file, with every profile on."""
    result = compose_config(ENV_EXAMPLE, "--profile", "dev")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def test_config_without_dev_profile_passes():
    # docker-compose 1.29 lists profiled services in `config` output all the
    # same, so the dev profile is checked on the service itself below.
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_config_fails_without_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty)
    assert result.returncode != 0
    assert "in .env" in result.stderr


def test_container_names_match_runbook(config):
    names = {
        name: svc.get("container_name") for name, svc in config["services"].items()
    }
    expected = {**RUNBOOK_CONTAINERS, **APP_SERVICES}
    assert names == expected


def test_services_have_health_restart_limits(config):
    for name, service in config["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        assert service.get("restart") in ("always", "unless-stopped"), (
            f"{name}: restart"
        )
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert "cpus" in limits, f"{name}: no CPU limit"
        assert "memory" in limits, f"{name}: no memory limit"
        assert list(service.get("networks", {})) == ["narrative-network"], name


def test_one_named_network(config):
    assert config["networks"] == {"narrative-network": {"name": "narrative-network"}}


def test_data_lives_in_named_volumes(config):
    for name, path in DATA_PATHS.items():
        volumes = [parse_volume(v) for v in config["services"][name].get("volumes", [])]
        named = [
            source
            for kind, source, target in volumes
            if kind == "volume" and target == path
        ]
        assert named, f"{name}: {path} is not a named volume"
        assert named[0] in config["volumes"]


def test_app_healthchecks_hit_served_ports(config):
    for compose_name, service_name in APP_SERVICES.items():
        test = " ".join(config["services"][compose_name]["healthcheck"]["test"])
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)['\"\s]", test + " ")
        assert url, f"{compose_name}: healthcheck calls no local URL"
        contract = SERVICES[service_name]
        assert int(url.group(1)) in contract.ports, (
            f"{compose_name}: port {url.group(1)}"
        )
        assert url.group(2) in contract.http_paths, (
            f"{compose_name}: path {url.group(2)}"
        )


def test_images_are_pinned(config):
    for name, service in config["services"].items():
        image = service["image"]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"{name}: image {image} is not pinned"


def test_localstack_only_in_dev_profile(config):
    for name, service in config["services"].items():
        profiles = service.get("profiles", [])
        assert profiles == (["dev"] if name == "localstack" else []), name


def test_monitoring_config_is_mounted(config):
    def sources(name: str) -> set[str]:
        volumes = [parse_volume(v) for v in config["services"][name]["volumes"]]
        return {
            str(Path(source).relative_to(REPO_ROOT))
            for kind, source, _ in volumes
            if kind == "bind"
        }

    assert sources("prometheus") == {
        "monitoring/prometheus/prometheus.yml",
        "monitoring/prometheus/rules",
    }
    # The secrets folder is checked in test_alertmanager.py.
    assert "monitoring/alertmanager/alertmanager.yml.tmpl" in sources("alertmanager")
    assert sources("grafana") == {
        "monitoring/grafana/provisioning",
        "monitoring/grafana/dashboards",
    }


def test_env_example_documents_every_variable():
    lines = COMPOSE_FILE.read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    documented = set(
        re.findall(r"^([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE)
    )
    assert used - documented == set()
    assert documented - used == set()


def test_env_example_holds_no_real_secrets():
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            continue
        # A *_PATH names where secrets are kept, not a secret.
        if key.endswith("_PATH"):
            continue
        if re.search(r"PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY", key):
            assert value == "" or value.startswith("replace-"), f"{key} has a value"


def test_grafana_reaches_prometheus(config):
    datasource = (
        REPO_ROOT / "monitoring/grafana/provisioning/datasources/prometheus.yml"
    )
    assert "${PROMETHEUS_URL}" in datasource.read_text()
    url = config["services"]["grafana"]["environment"]["PROMETHEUS_URL"]
    prometheus = config["services"]["prometheus"]
    assert url == f"http://{prometheus['container_name']}:9090"
    # Prometheus listens on 9090 unless --web.listen-address sets another port.
    listen = [a for a in prometheus["command"] if a.startswith("--web.listen-address")]
    assert listen in ([], ["--web.listen-address=:9090"])


def env_example_values() -> dict[str, str]:
    return dict(
        re.findall(r"^([A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE)
    )


# Upload limit of each service behind Traefik's upload-limit middleware.
SERVICE_UPLOAD_LIMITS = {
    "datasets": "DATASETS_MAX_UPLOAD_BYTES",
    "inference": "INFERENCE_BATCH_MAX_UPLOAD_BYTES",
}


def test_edge_upload_limit_above_services(config):
    # Below the edge limit a service returns 413 itself, with a message that
    # names its limit. Traefik's own 413 has no body.
    edge = int(config["services"]["traefik"]["environment"]["GATEWAY_MAX_UPLOAD_BYTES"])
    values = env_example_values()
    for service, variable in SERVICE_UPLOAD_LIMITS.items():
        limit = int(config["services"][service]["environment"][variable])
        assert edge > limit, variable
        assert int(values["GATEWAY_MAX_UPLOAD_BYTES"]) > int(values[variable]), variable
