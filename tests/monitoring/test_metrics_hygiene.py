"""Each service's /metrics passes promtool, and id labels stay bounded.

The monitored stack runs with METRICS_MAX_TRACKED_IDS small, so 130 users,
each with a dataset, and seven models show where the bound applies. The
load goes straight to the services with the internal token, as the gateway
would send it, so that no API key is needed per user.
"""

import re
import subprocess

import httpx
import pytest
from live import expect
from prometheus_client.parser import text_string_to_metric_families

from conftest import MAX_TRACKED_IDS

# Process, and the name of its port in the stack's config.
PROCESSES = {
    "gateway": "gateway",
    "datasets": "datasets",
    "training": "training",
    "training-worker": "training_worker",
    "inference": "inference",
    "ai-analysis": "analysis",
}
ID_LABELS = ("user_id", "dataset_id", "model_id")
# Routes left out of the OpenAPI documents: FastAPI's own documentation and
# the gateway's ForwardAuth check that Traefik calls.
# Routes left out of the OpenAPI documents on purpose: the gateway app's
# merged docs, its metrics of all services and Traefik's error pages.
UNDOCUMENTED_ROUTES = {
    "/openapi.json",
    "/gateway/openapi.json",
    "/docs",
    "/redoc",
    "/auth/verify",
    "/metrics/all",
    "/errors/{status_code}",
}
OBJECT_ID = re.compile(r"[0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}")


def _metrics_text(stack, process: str) -> str:
    response = httpx.get(f"{stack.service_url(PROCESSES[process])}/metrics", timeout=30)
    return expect(response, 200).text


def _families(stack, process: str) -> dict:
    return {
        family.name: family
        for family in text_string_to_metric_families(_metrics_text(stack, process))
    }


@pytest.mark.parametrize("process", list(PROCESSES))
def test_promtool_accepts_metrics(promtool, monitored_stack, loaded, process):
    exposition = _metrics_text(monitored_stack, process)

    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.parametrize(
    ("process", "metric", "label"),
    [
        ("datasets", "business_datasets_created", "user_id"),
        ("datasets", "ml_dataset_size_rows", "dataset_id"),
        ("training-worker", "business_models_trained", "user_id"),
        ("training-worker", "ml_model_accuracy", "model_id"),
        ("inference", "ml_prediction_latency_seconds", "model_id"),
        ("inference", "business_predictions_made", "model_id"),
    ],
)
def test_id_label_stops_at_bound(monitored_stack, loaded, process, metric, label):
    family = _families(monitored_stack, process)[metric]
    values = {
        sample.labels[label] for sample in family.samples if label in sample.labels
    }

    assert "other" in values
    assert len(values) == MAX_TRACKED_IDS + 1


@pytest.mark.parametrize("process", list(PROCESSES))
def test_only_id_labels_carry_ids(monitored_stack, loaded, process):
    """No family has more than the ids kept plus `other` for an id label,
    and no other label carries an id."""
    for name, family in _families(monitored_stack, process).items():
        ids: dict[str, set[str]] = {}
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label in ID_LABELS:
                    ids.setdefault(label, set()).add(value)
                else:
                    assert not OBJECT_ID.search(value), (name, label, value)
        for label, values in ids.items():
            assert len(values) <= MAX_TRACKED_IDS + 1, (name, label, len(values))


@pytest.mark.parametrize(
    "process", ["gateway", "datasets", "training", "inference", "ai-analysis"]
)
def test_endpoint_label_takes_route_templates(monitored_stack, loaded, process):
    url = monitored_stack.service_url(PROCESSES[process])
    openapi = expect(httpx.get(f"{url}/openapi.json", timeout=30), 200).json()
    templates = set(openapi["paths"]) | UNDOCUMENTED_ROUTES
    family = _families(monitored_stack, process)["http_requests"]
    endpoints = {sample.labels["endpoint"] for sample in family.samples}

    assert "unmatched" in endpoints
    unknown = {
        endpoint
        for endpoint in endpoints - templates - {"unmatched"}
        if not endpoint.startswith("/internal/")
    }
    assert unknown == set()
    for endpoint in endpoints:
        assert not OBJECT_ID.search(endpoint), endpoint
