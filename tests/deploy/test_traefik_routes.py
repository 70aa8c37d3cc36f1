"""Check the Kubernetes routes against Traefik's file provider configuration.

The local stack and docker compose route with services/gateway/traefik/
dynamic.yml, and Kubernetes with k8s/base/ingressroute.yaml. These tests
fail when the two disagree on which paths exist or which headers are
stripped from clients.
"""

import copy
import re

import pytest
import yaml

from . import k8s_policies as policies
from .contract import REPO_ROOT

DYNAMIC_CONFIG = REPO_ROOT / "services/gateway/traefik/dynamic.yml"
# Service name in dynamic.yml -> Kubernetes Service name.
UPSTREAM_SERVICES = {
    "gateway": "narrative-gateway",
    "datasets": "narrative-datasets",
    "training": "narrative-training",
    "inference": "narrative-inference",
    "analysis": "narrative-ai-analysis",
}


def load_dynamic_config() -> dict:
    """Parse dynamic.yml with each Go template replaced by its default or a URL."""
    if not DYNAMIC_CONFIG.exists():
        pytest.fail(f"{DYNAMIC_CONFIG} is missing")
    text = DYNAMIC_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r'\{\{\s*env "\w+"\s*\|\s*default "([^"]*)"\s*\}\}', r"\1", text)
    text = re.sub(r'\{\{\s*env "(\w+)"\s*\}\}', r"http://\1", text)
    return yaml.safe_load(text)


def normalize(rule: str) -> str:
    return re.sub(r"\s+", " ", rule).strip()


def file_routes(config: dict) -> dict[str, str]:
    """Map each router rule to the Kubernetes Service of its backend."""
    return {
        normalize(router["rule"]): UPSTREAM_SERVICES[router["service"]]
        for router in config["http"]["routers"].values()
    }


def crd_routes(objects: list[dict]) -> dict[str, str]:
    routes = {}
    for route in policies.by_kind(objects, "IngressRoute"):
        for rule in route["spec"]["routes"]:
            (backend,) = rule["services"]
            routes[normalize(rule["match"])] = backend["name"]
    return routes


def stripped_headers(middlewares: list[dict]) -> set[str]:
    return {
        header
        for middleware in middlewares
        for header, value in middleware.get("headers", {})
        .get("customRequestHeaders", {})
        .items()
        if value == ""
    }


def test_routes_match_file_provider(production):
    assert crd_routes(production) == file_routes(load_dynamic_config())


def test_same_identity_headers_stripped(production):
    file_middlewares = load_dynamic_config()["http"]["middlewares"].values()
    crd_middlewares = [m["spec"] for m in policies.by_kind(production, "Middleware")]
    assert stripped_headers(crd_middlewares) == stripped_headers(file_middlewares)
    assert "X-Internal-Token" in stripped_headers(crd_middlewares)


def test_same_forward_auth_path(production):
    file_auth = [
        m["forwardAuth"]
        for m in load_dynamic_config()["http"]["middlewares"].values()
        if "forwardAuth" in m
    ]
    crd_auth = [
        m["spec"]["forwardAuth"]
        for m in policies.by_kind(production, "Middleware")
        if "forwardAuth" in m["spec"]
    ]
    assert len(file_auth) == 1
    assert len(crd_auth) == 1
    file_path = re.sub(r"^http://\w+", "", file_auth[0]["address"])
    crd_path = re.sub(r"^http://[^/]+", "", crd_auth[0]["address"])
    assert crd_path == file_path
    assert crd_auth[0]["authResponseHeaders"] == file_auth[0]["authResponseHeaders"]


def test_route_drift_is_detected(production):
    objects = [dict(obj) for obj in production]
    routes = [o for o in objects if o["kind"] == "IngressRoute"]
    routes[0] = {**routes[0], "spec": {**routes[0]["spec"]}}
    routes[0]["spec"]["routes"] = routes[0]["spec"]["routes"][1:]
    assert crd_routes([routes[0]]) != file_routes(load_dynamic_config())


def test_same_middleware_settings(production):
    # Limits, retries and ForwardAuth options, with the file's defaults. Only
    # the ForwardAuth address and the error pages' service reference differ:
    # test_same_forward_auth_path checks the first, the assert below the second.
    file_middlewares = copy.deepcopy(load_dynamic_config()["http"]["middlewares"])
    crd_middlewares = {
        m["metadata"]["name"]: copy.deepcopy(m["spec"])
        for m in policies.by_kind(production, "Middleware")
    }
    for middlewares in (file_middlewares, crd_middlewares):
        middlewares["api-key"]["forwardAuth"].pop("address")
    crd_error_service = crd_middlewares["unreachable"]["errors"].pop("service")
    file_error_service = file_middlewares["unreachable"]["errors"].pop("service")
    assert file_error_service == "gateway"
    assert crd_error_service == {"name": "narrative-gateway", "port": 8001}
    assert crd_middlewares == file_middlewares


def test_same_servers_transport(production):
    file_transports = load_dynamic_config()["http"]["serversTransports"]
    crd_transports = {
        t["metadata"]["name"]: t["spec"]
        for t in policies.by_kind(production, "ServersTransport")
    }
    assert crd_transports == file_transports
