"""The shared app: error envelopes, request ids, route-template metrics and bounds."""

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pymongo.errors import ServerSelectionTimeoutError

from narrative_common.app import create_app
from narrative_common.errors import NotFoundError
from narrative_common.ids import ResourceId
from narrative_common.metrics import OTHER, BoundedLabel, HTTPMetrics
from narrative_common.pagination import Page, Pagination
from narrative_common.settings import CommonSettings


@pytest.fixture
def client():
    app = create_app(
        service="probe", title="probe", version="1", settings=CommonSettings()
    )

    @app.get("/items/{item_id}")
    async def get_item(item_id: ResourceId) -> dict:
        raise NotFoundError(f"Item {item_id} was not found.", code="item_not_found")

    @app.get("/items")
    async def list_items(page: Pagination) -> Page[int]:
        return Page(items=[], total=0, limit=page.limit, offset=page.offset)

    @app.get("/crash")
    async def crash() -> dict:
        raise RuntimeError("bug")

    @app.get("/mongo-down")
    async def mongo_down() -> dict:
        raise ServerSelectionTimeoutError("no servers")

    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://probe")


async def test_crash_answers_500_envelope(client):
    response = await client.get("/crash", headers={"X-Request-Id": "abc-1"})

    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": response.json()["message"],
        "request_id": "abc-1",
    }
    assert response.headers["x-request-id"] == "abc-1"


async def test_lost_dependency_answers_503(client):
    response = await client.get("/mongo-down")

    assert response.status_code == 503
    assert response.json()["error"] == "dependency_unavailable"
    assert "MongoDB" in response.json()["message"]
    assert response.headers["retry-after"] == "5"


async def test_malformed_id_names_the_parameter(client):
    response = await client.get("/items/not%00an-id")

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["fields"][0]["field"] == "path.item_id"


async def test_app_error_keeps_code_and_message(client):
    response = await client.get("/items/6b12f5ce2201f7436d5d09ed")

    assert response.status_code == 404
    assert response.json()["error"] == "item_not_found"
    assert "6b12f5ce2201f7436d5d09ed" in response.json()["message"]


@pytest.mark.parametrize(
    "query", ["offset=-1", "offset=99999999999999999999", "limit=0"]
)
async def test_page_bounds_are_validated(client, query):
    response = await client.get(f"/items?{query}")

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"].startswith("query.")


async def test_metrics_use_route_templates(client):
    await client.get("/items/6b12f5ce2201f7436d5d09ed")
    await client.get("/no/such/path")

    text = (await client.get("/metrics")).text

    assert 'endpoint="/items/{item_id}"' in text
    assert 'endpoint="unmatched"' in text
    assert "6b12f5ce2201f7436d5d09ed" not in text


def test_bounded_label_caps_distinct_values():
    label = BoundedLabel(2)

    assert [label(v) for v in ("a", "b", "c", "a", "d")] == [
        "a",
        "b",
        OTHER,
        "a",
        OTHER,
    ]


def test_latency_buckets_start_below_one_millisecond():
    metrics = HTTPMetrics(CollectorRegistry())

    assert metrics.duration._upper_bounds[0] <= 0.001
    assert 0.01 in metrics.duration._upper_bounds


def test_production_rejects_development_token(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")

    with pytest.raises(ValueError, match="INTERNAL_TOKEN"):
        CommonSettings()
