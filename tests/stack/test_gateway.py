"""The gateway through Traefik: keys, identity headers, health, docs and metrics."""

import httpx
import pytest


@pytest.fixture(scope="module")
def alice(stack) -> str:
    return stack.api_key("alice")


def test_request_without_key_gets_401(stack):
    response = httpx.get(f"{stack.gateway_url}/api/v1/datasets")

    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "missing_api_key"
    assert "make api-key" in body["message"]


def test_request_with_wrong_key_gets_401(stack):
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/datasets", headers={"X-API-Key": "nm_wrong"}
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"
    assert "X-API-Key" in response.json()["message"]


def test_bearer_key_is_accepted(stack, alice):
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/unknown-route",
        headers={"Authorization": f"Bearer {alice}"},
    )

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_client_cannot_claim_another_identity(stack, alice):
    """A forged X-User-Id or internal token from a client is replaced or dropped."""
    forged = {
        "X-User-Id": "mallory",
        "X-Internal-Token": "guess",
        "X-User-Role": "admin",
    }

    no_key = httpx.get(f"{stack.gateway_url}/debug/profiling/report", headers=forged)
    assert no_key.status_code == 401

    with_key = httpx.get(
        f"{stack.gateway_url}/debug/profiling/report",
        headers={**forged, "X-API-Key": alice},
    )
    assert with_key.status_code == 403
    assert with_key.json()["error"] == "admin_required"


def test_service_rejects_requests_that_skip_the_gateway(stack):
    response = httpx.get(
        f"{stack.service_url('gateway')}/debug/profiling/report",
        headers={"X-User-Id": "alice", "X-User-Role": "admin"},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_admin_can_profile_the_gateway(stack):
    admin = stack.api_key("operator", role="admin")
    headers = {"X-API-Key": admin}

    started = httpx.post(
        f"{stack.gateway_url}/debug/profiling/enable?duration_seconds=30",
        headers=headers,
    )
    assert started.status_code == 202
    for _ in range(20):
        httpx.get(f"{stack.gateway_url}/health/detailed")
    report = httpx.get(f"{stack.gateway_url}/debug/profiling/report", headers=headers)

    assert report.status_code == 200
    assert "Duration" in report.text or "Recorded" in report.text


def test_request_id_is_returned_and_propagated(stack, alice):
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/unknown-route",
        headers={"X-API-Key": alice, "X-Request-Id": "trace-123"},
    )

    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-123"
    assert response.json()["request_id"] == "trace-123"


def test_health_detailed_covers_every_service(stack):
    response = httpx.get(f"{stack.gateway_url}/health/detailed", timeout=10)

    assert response.status_code == 200
    report = response.json()
    dependencies = report["dependencies"]
    for name in ("mongodb", "redis", "datasets", "training", "inference", "analysis"):
        assert name in dependencies, name
        assert dependencies[name]["latency_ms"] is not None
    for name in ("datasets", "training", "inference", "analysis"):
        assert dependencies[name]["status"] == "ok", dependencies[name]
        nested = dependencies[name]["detail"]["dependencies"]
        assert all(d["status"] in ("ok", "degraded") for d in nested.values()), nested
    assert report["status"] == "ok"


def test_docs_merge_every_service(stack):
    docs = httpx.get(f"{stack.gateway_url}/docs")
    spec = httpx.get(f"{stack.gateway_url}/openapi.json", timeout=10)

    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for prefix in (
        "/api/v1/datasets",
        "/api/v1/training/jobs",
        "/api/v1/models/{model_id}/predict",
        "/api/v1/analysis",
    ):
        assert any(p.startswith(prefix) for p in paths), prefix
    assert not any(p.startswith("/internal/") for p in paths)
    assert spec.json()["x-unavailable-services"] == []


def test_edge_metrics_include_every_service(stack):
    response = httpx.get(f"{stack.gateway_url}/metrics", timeout=10)

    assert response.status_code == 200
    for service in ("gateway", "datasets", "training", "inference", "analysis"):
        assert f'service="{service}"' in response.text, service
    assert "http_request_duration_seconds_bucket" in response.text
    assert "gateway_auth_requests_total" in response.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_scheme_is_case_insensitive(stack, alice, scheme):
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/datasets",
        headers={"Authorization": f"{scheme} {alice}"},
    )

    assert response.status_code == 200, response.text
