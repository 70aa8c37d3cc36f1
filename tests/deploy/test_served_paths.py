"""Request the probe and scrape paths from the real apps, in process.

Probes, health checks and scrape configs use the paths of the contract in
docs/architecture.md. These tests import each service's app (and the
training worker's health app) and send it those requests through httpx's
ASGI transport, without the lifespan, so no datastore is contacted.
"""

import importlib

import httpx
import pytest

from .contract import SERVICE_HTTP_PATHS, WORKER_HTTP_PATHS, load_services

SERVICES = load_services()
APP_SERVICES = sorted(
    name
    for name, service in SERVICES.items()
    if service.package and name != "narrative-training-worker"
)
# Readiness returns 503 while dependencies are down, which still means served.
SERVED = {200, 503}


async def statuses(app, paths: set[str]) -> dict[str, int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return {path: (await client.get(path)).status_code for path in sorted(paths)}


@pytest.mark.parametrize("name", APP_SERVICES)
async def test_service_serves_contract_paths(name):
    app = importlib.import_module(f"{SERVICES[name].package}.main").app
    result = await statuses(app, SERVICE_HTTP_PATHS)
    assert {path: code for path, code in result.items() if code not in SERVED} == {}
    assert result["/health"] == 200


async def test_worker_serves_health_and_metrics():
    from narrative_training.worker import LoopMonitor, health_app

    result = await statuses(health_app(LoopMonitor()), WORKER_HTTP_PATHS)
    assert result == {"/health": 200, "/metrics": 200}


async def test_unknown_path_is_not_served():
    app = importlib.import_module("narrative_datasets.main").app
    result = await statuses(app, {"/health/live"})
    assert result == {"/health/live": 404}
