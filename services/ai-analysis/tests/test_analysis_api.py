"""The service's routes against real MongoDB and Redis, with fake owners and OpenAI."""

import asyncio
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from servers import Reply, server_error

from conftest import PII_EMAIL, make_settings, small_profile
from narrative_analysis.main import create
from narrative_analysis.metrics import METRICS

TOKEN = "test-internal-token"

MODEL_ID = "6b12f5ce2201f7436d5d09ed"

MODEL_METADATA = {
    "id": MODEL_ID,
    "name": "churn forest",
    "model_type": "random_forest",
    "problem_type": "classification",
    "target": "Churn",
    "class_labels": ["No", "Yes"],
    "metrics": {
        "accuracy": 0.80,
        "roc_auc": 0.84,
        "recall": 0.48,
        "per_class": {"Yes": {"recall": 0.48}, "No": {"recall": 0.91}},
    },
    "baseline_metrics": {"accuracy": 0.735, "roc_auc": 0.5},
    "leaderboard": [
        {"model_type": "random_forest", "roc_auc": 0.84},
        {"model_type": "logistic_regression", "roc_auc": 0.83},
    ],
    "feature_importances": [
        {"feature": "tenure", "importance": 0.3},
        {"feature": "Contract", "importance": 0.25},
    ],
    "warnings": [{"kind": "identifier", "column": "customerID", "message": "left out"}],
    "input_schema": {"email": {"examples": [PII_EMAIL]}},
}


@asynccontextmanager
async def running(infra, fake_owners, **settings):
    values = {
        **infra.env,
        "INTERNAL_TOKEN": TOKEN,
        "DATASETS_URL": fake_owners.server.url,
        "TRAINING_URL": fake_owners.server.url,
        "MONGODB_DATABASE": f"analysis_test_{uuid.uuid4().hex[:8]}",
        "LOG_FORMAT": "console",
        **settings,
    }
    app = create(make_settings(**values))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://analysis"
        ) as client:
            yield client


def as_user(user: str) -> dict[str, str]:
    return {"X-Internal-Token": TOKEN, "X-User-Id": user}


def counter(name: str, labels: dict | None = None) -> float:
    return METRICS.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def owned(fake_owners):
    user = f"user-{uuid.uuid4().hex[:6]}"
    dataset_id = uuid.uuid4().hex[:24]
    fake_owners.datasets[(user, dataset_id)] = (
        {"id": dataset_id, "name": "churn"},
        small_profile(),
    )
    fake_owners.models[(user, MODEL_ID)] = MODEL_METADATA | {"dataset_id": dataset_id}
    return user, dataset_id


async def test_local_analysis_without_key(infra, fake_owners, owned):
    user, dataset_id = owned
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        response = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        assert response.status_code == 200
        body = response.json()
        assert body["analyzer"] == "local"
        assert body["fallback_reason"] is None
        assert body["cached"] is False
        assert body["result"]["recommended_targets"][0]["column"] == "Churn"
        assert "# Dataset analysis: churn" in body["markdown"]

        health = await client.get("/health/detailed")
        assert health.status_code == 200
        assert health.json()["dependencies"]["openai"]["detail"]["analyzer"] == "local"


async def test_repeated_request_is_cached(infra, fake_owners, owned):
    user, dataset_id = owned
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        hits = counter("analysis_cache_hits_total")
        first = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        second = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        assert first.status_code == 200
        assert second.status_code == 200
        assert second.json()["cached"] is True
        assert second.json()["id"] == first.json()["id"]
        assert counter("analysis_cache_hits_total") == hits + 1


async def test_openai_analysis_drops_wrong_numbers(
    infra, fake_owners, fake_openai, owned
):
    user, dataset_id = owned
    from narrative_analysis.analysis.profile import normalize_profile
    from narrative_analysis.local.dataset import analyze_dataset

    insights = analyze_dataset(normalize_profile(small_profile()))
    insights.key_findings[0].evidence[0].value = 999.0
    fake_openai.reset(Reply(content=insights.model_dump_json()))
    dropped_before = counter(
        "analysis_findings_dropped_total", {"reason": "value_mismatch"}
    )
    async with running(infra, fake_owners, base_url=fake_openai.base_url) as client:
        response = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
    assert response.status_code == 200
    body = response.json()
    assert body["analyzer"] == "openai"
    assert body["model"] == "fake-model"
    assert body["dropped_findings"][0]["reason"] == "value_mismatch"
    assert (
        counter("analysis_findings_dropped_total", {"reason": "value_mismatch"})
        == dropped_before + 1
    )
    assert PII_EMAIL not in fake_openai.prompts()


async def test_openai_outage_falls_back_to_local(
    infra, fake_owners, fake_openai, owned
):
    user, dataset_id = owned
    fake_openai.reset(*[server_error() for _ in range(20)])
    async with running(
        infra,
        fake_owners,
        base_url=fake_openai.base_url,
        ANALYSIS_OPENAI_MAX_ATTEMPTS=2,
        ANALYSIS_CIRCUIT_FAILURE_THRESHOLD=2,
        ANALYSIS_CIRCUIT_RESET_SECONDS=30,
    ) as client:
        response = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        assert response.status_code == 200
        body = response.json()
        assert body["analyzer"] == "local"
        assert "server error" in body["fallback_reason"]

        health = await client.get("/health/detailed")
        assert health.status_code == 200
        openai = health.json()["dependencies"]["openai"]
        assert openai["status"] == "degraded"
        assert openai["detail"]["circuit_state"] == "open"
        assert counter("openai_circuit_state") == 2
        ready = await client.get("/health/ready")
        assert ready.status_code == 200

        calls = len(fake_openai.requests)
        again = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        assert again.status_code == 200
        assert "circuit is open" in again.json()["fallback_reason"]
        assert again.json()["cached"] is True
        assert len(fake_openai.requests) == calls


async def test_other_user_gets_404(infra, fake_owners, owned):
    user, dataset_id = owned
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        created = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        stranger = as_user("someone-else")
        response = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=stranger
        )
        assert response.status_code == 404
        assert response.json()["error"] == "dataset_not_found"
        fetched = await client.get(
            f"/api/v1/analysis/{created.json()['id']}", headers=stranger
        )
        assert fetched.status_code == 404
        assert fetched.json()["error"] == "analysis_not_found"


async def test_markdown_format_and_listing(infra, fake_owners, owned):
    user, dataset_id = owned
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        dataset = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        await asyncio.sleep(0.01)
        model = await client.post(
            f"/api/v1/analysis/models/{MODEL_ID}", headers=as_user(user)
        )
        assert model.status_code == 200
        result = model.json()["result"]
        assert result["prediction_drivers"][0]["feature"] == "tenure"
        weak = [w["title"] for w in result["weaknesses"]]
        assert "Misses many Churn = Yes cases" in weak

        text = await client.get(
            f"/api/v1/analysis/{dataset.json()['id']}?format=markdown",
            headers=as_user(user),
        )
        assert text.status_code == 200
        assert text.headers["content-type"].startswith("text/markdown")
        assert "## Data-quality risks" in text.text

        page = await client.get("/api/v1/analysis?limit=1", headers=as_user(user))
        assert page.status_code == 200
        assert page.json()["total"] == 2
        assert page.json()["items"][0]["subject_type"] == "model"


async def test_internal_delete_removes_analyses(infra, fake_owners, owned):
    user, dataset_id = owned
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        created = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        deleted = await client.delete(
            f"/internal/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        assert deleted.status_code == 200
        assert deleted.json() == {"deleted": 1}
        fetched = await client.get(
            f"/api/v1/analysis/{created.json()['id']}", headers=as_user(user)
        )
        assert fetched.status_code == 404
        again = await client.post(
            f"/api/v1/analysis/datasets/{dataset_id}", headers=as_user(user)
        )
        assert again.json()["cached"] is False


async def test_missing_token_gets_401(infra, fake_owners):
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        response = await client.get("/api/v1/analysis")
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("POST", "/api/v1/analysis/datasets/%00", "path.dataset_id"),
        ("POST", "/api/v1/analysis/datasets/" + "z" * 24, "path.dataset_id"),
        ("POST", "/api/v1/analysis/models/%00", "path.model_id"),
        ("GET", "/api/v1/analysis/not-an-id", "path.analysis_id"),
        ("DELETE", "/internal/v1/analysis/datasets/%00", "path.dataset_id"),
        ("DELETE", "/internal/v1/analysis/models/m1", "path.model_id"),
    ],
)
async def test_malformed_id_gets_422(infra, fake_owners, owned, method, path, field):
    user, _ = owned
    async with running(infra, fake_owners, base_url="", OPENAI_API_KEY="") as client:
        response = await client.request(method, path, headers=as_user(user))
        assert response.status_code == 422
        assert response.json()["fields"][0]["field"] == field
