"""Read the service contract from docs/architecture.md.

The deployment tests check Dockerfiles, the compose file and the Kubernetes
manifests against these tables, so a port or setting changed in the doc
shows up as a failing test here.
"""

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE_DOC = REPO_ROOT / "docs" / "architecture.md"

# Health endpoints every Python service serves (architecture.md, "Endpoints
# on every service"). The training worker serves only /health and /metrics.
SERVICE_HTTP_PATHS = {"/health", "/health/ready", "/health/detailed", "/metrics"}
WORKER_HTTP_PATHS = {"/health", "/metrics"}
# Traefik serves /ping and /metrics on its metrics entry point.
TRAEFIK_METRICS_PATHS = {"/ping", "/metrics"}
# NOTE: the ForwardAuth path comes from services/gateway/traefik/dynamic.yml,
# because the architecture doc does not name one yet.
GATEWAY_EXTRA_PATHS = {"/auth/verify", "/docs", "/openapi.json", "/metrics/all"}

# Runbook names that docker commands use; they are not in the services table.
RUNBOOK_CONTAINERS = {
    "mongodb": "narrative-mongodb-prod",
    "redis": "narrative-redis-prod",
    "localstack": "narrative-localstack-dev",
    "prometheus": "narrative-prometheus",
    "alertmanager": "narrative-alertmanager",
    "grafana": "narrative-grafana",
}


@dataclass(frozen=True)
class Service:
    """One row of the architecture doc's services table."""

    name: str  # k8s Deployment and compose container name
    package: str | None  # Python package, None for Traefik
    folder: str
    ports: tuple[int, ...]

    @property
    def http_paths(self) -> set[str]:
        if self.name == "narrative-traefik":
            return TRAEFIK_METRICS_PATHS
        if self.name == "narrative-training-worker":
            return WORKER_HTTP_PATHS
        if self.name == "narrative-gateway":
            return SERVICE_HTTP_PATHS | GATEWAY_EXTRA_PATHS
        return SERVICE_HTTP_PATHS


def _table_rows(heading: str) -> list[list[str]]:
    """Return the cells of the first table under a level-2 heading."""
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= {"|", "-", " "}:
            continue
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows[1:]  # drop the header row


def load_services() -> dict[str, Service]:
    """Parse the services table into Service records keyed by name."""
    services = {}
    for _, package, folder, port_cell, name in _table_rows("Services"):
        ports = tuple(int(port) for port in re.findall(r"\d{4,5}", port_cell))
        services[name] = Service(
            name=name,
            package=None if package == "n/a" else package,
            folder=folder.rstrip("/"),
            ports=ports,
        )
    return services


def load_shared_settings() -> set[str]:
    """Return every variable name in the doc's shared settings table."""
    names = set()
    for row in _table_rows("Settings (environment variables)"):
        names.update(re.findall(r"[A-Z][A-Z0-9_]+", row[0]))
    return names
