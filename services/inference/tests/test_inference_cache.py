"""Unit tests of the model cache with a fake loader and fake sessions."""

import asyncio
import json
from types import SimpleNamespace

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from narrative_common.auth import User
from narrative_inference.metrics import InferenceMetrics
from narrative_inference.models.cache import ModelCache
from narrative_inference.models.errors import ModelNotFoundError
from narrative_inference.models.events import ModelEventListener
from narrative_inference.models.onnx_model import LoadedModel
from narrative_inference.models.schemas import ModelMetadata

ALICE = User(id="alice")
BOB = User(id="bob")


class FakeSession:
    def __init__(self) -> None:
        self.runs = 0
        self.feeds: list[dict] = []

    def get_outputs(self):
        return [SimpleNamespace(name="label"), SimpleNamespace(name="probabilities")]

    def run(self, names, feed):
        self.runs += 1
        self.feeds.append(feed)
        rows = len(next(iter(feed.values())))
        return [np.array(["No"] * rows), np.full((rows, 2), 0.5, dtype=np.float32)]


def metadata(model_id: str, owner: str = "alice", nbytes: int = 100) -> ModelMetadata:
    return ModelMetadata.model_validate(
        {
            "id": model_id,
            "owner": owner,
            "problem_type": "classification",
            "model_type": "RandomForestClassifier",
            "target": "Churn",
            "class_labels": ["No", "Yes"],
            "input_schema": [
                {"name": "tenure", "type": "numeric", "onnx_input": "tenure"},
                {
                    "name": "Contract",
                    "type": "categorical",
                    "categories": ["Month-to-month", "One year"],
                    "onnx_input": "Contract",
                },
            ],
            "artifact": {"bucket": "b", "key": "k", "bytes": nbytes, "sha256": "0"},
        }
    )


class FakeLoader:
    """Loads models of the given owners and sizes after a delay, counting loads."""

    def __init__(self, sizes: dict[str, int] | None = None, delay: float = 0.0):
        self.sizes = sizes or {}
        self.owners: dict[str, str] = {}
        self.delay = delay
        self.calls: list[str] = []

    async def __call__(self, model_id: str, user: User) -> LoadedModel:
        self.calls.append(model_id)
        await asyncio.sleep(self.delay)
        owner = self.owners.get(model_id, "alice")
        if owner != user.id:
            raise ModelNotFoundError(model_id)
        size = self.sizes.get(model_id, 100)
        return LoadedModel(
            metadata=metadata(model_id, owner, size),
            session=FakeSession(),
            nbytes=size,
        )


def make_cache(loader: FakeLoader, *, max_entries: int = 10, max_bytes: int = 10_000):
    metrics = InferenceMetrics(registry=CollectorRegistry())
    cache = ModelCache(
        loader, max_entries=max_entries, max_bytes=max_bytes, metrics=metrics
    )
    return cache, metrics


async def test_cache_evicts_least_recently_used():
    loader = FakeLoader()
    cache, metrics = make_cache(loader, max_entries=3)
    for model_id in ("a", "b", "c"):
        await cache.get(model_id, ALICE)
    await cache.get("a", ALICE)  # a becomes the most recently used
    await cache.get("d", ALICE)

    assert cache.model_ids() == ["c", "a", "d"]
    assert "b" not in cache
    assert cache.evictions["capacity"] == 1
    assert metrics.cache_evictions.labels("capacity")._value.get() == 1
    assert metrics.cache_entries._value.get() == 3


async def test_cache_respects_byte_bound():
    loader = FakeLoader(sizes={"a": 400, "b": 400, "c": 300})
    cache, metrics = make_cache(loader, max_entries=10, max_bytes=1000)
    await cache.get("a", ALICE)
    await cache.get("b", ALICE)
    await cache.get("c", ALICE)

    assert cache.model_ids() == ["b", "c"]
    assert cache.total_bytes == 700
    assert metrics.cache_bytes._value.get() == 700


async def test_cache_does_not_store_model_larger_than_bound():
    loader = FakeLoader(sizes={"huge": 5000})
    cache, _ = make_cache(loader, max_bytes=1000)
    model = await cache.get("huge", ALICE)

    assert model.model_id == "huge"
    assert len(cache) == 0
    assert cache.total_bytes == 0


async def test_cache_respects_entry_bound():
    loader = FakeLoader()
    cache, _ = make_cache(loader, max_entries=2)
    for model_id in ("a", "b", "c", "d"):
        await cache.get(model_id, ALICE)

    assert len(cache) == 2
    assert cache.model_ids() == ["c", "d"]
    assert cache.evictions["capacity"] == 2


async def test_concurrent_first_requests_load_once():
    loader = FakeLoader(delay=0.05)
    cache, metrics = make_cache(loader)
    models = await asyncio.gather(*(cache.get("a", ALICE) for _ in range(20)))

    assert loader.calls == ["a"]
    assert all(model is models[0] for model in models)
    assert cache.loads == 1
    assert cache.misses == 20
    assert metrics.load_duration._sum.get() > 0


async def test_cancelled_request_does_not_cancel_shared_load():
    loader = FakeLoader(delay=0.05)
    cache, _ = make_cache(loader)
    first = asyncio.create_task(cache.get("a", ALICE))
    second = asyncio.create_task(cache.get("a", ALICE))
    await asyncio.sleep(0.01)
    first.cancel()
    model = await second

    assert model.model_id == "a"
    assert loader.calls == ["a"]
    assert "a" in cache


async def test_load_runs_warm_up_row():
    loader = FakeLoader()
    cache, _ = make_cache(loader)
    model = await cache.get("a", ALICE)

    assert model.session.runs == 1
    feed = model.session.feeds[0]
    assert feed["tenure"].dtype == np.float32
    assert feed["tenure"].shape == (1, 1)
    assert feed["Contract"][0, 0] == "Month-to-month"
    assert model.warmup_ms >= 0
    assert model.load_ms >= model.warmup_ms


async def test_hit_does_not_reload_or_warm_up_again():
    loader = FakeLoader()
    cache, metrics = make_cache(loader)
    await cache.get("a", ALICE)
    model = await cache.get("a", ALICE)

    assert loader.calls == ["a"]
    assert model.session.runs == 1
    assert model.hits == 1
    assert cache.hits == 1
    assert metrics.cache_hits._value.get() == 1


async def test_other_user_gets_not_found_on_cached_model():
    loader = FakeLoader()
    cache, _ = make_cache(loader)
    await cache.get("a", ALICE)

    with pytest.raises(ModelNotFoundError):
        await cache.get("a", BOB)
    assert cache.hits == 0


async def test_other_user_cannot_evict_model():
    loader = FakeLoader()
    cache, _ = make_cache(loader)
    await cache.get("a", ALICE)

    with pytest.raises(ModelNotFoundError):
        cache.evict_owned("a", BOB)
    assert "a" in cache
    cache.evict_owned("a", ALICE)
    assert "a" not in cache
    assert cache.evictions["explicit"] == 1


async def test_failed_load_is_not_cached_and_can_retry():
    loader = FakeLoader()
    loader.owners["a"] = "carol"
    cache, _ = make_cache(loader)

    with pytest.raises(ModelNotFoundError):
        await cache.get("a", ALICE)
    assert len(cache) == 0
    loader.owners["a"] = "alice"
    model = await cache.get("a", ALICE)
    assert model.owner == "alice"
    assert loader.calls == ["a", "a"]


async def test_deleted_event_evicts_model():
    loader = FakeLoader()
    cache, metrics = make_cache(loader)
    await cache.get("a", ALICE)
    await cache.get("b", ALICE)
    listener = ModelEventListener(client=None, cache=cache)

    await listener.handle(json.dumps({"event": "model.deleted", "model_id": "a"}))

    assert cache.model_ids() == ["b"]
    assert cache.evictions["deleted"] == 1
    assert metrics.cache_evictions.labels("deleted")._value.get() == 1


async def test_deletion_during_load_keeps_model_out():
    loader = FakeLoader(delay=0.05)
    cache, _ = make_cache(loader)
    pending = asyncio.create_task(cache.get("a", ALICE))
    await asyncio.sleep(0.01)
    cache.evict("a", "deleted")
    await pending

    assert "a" not in cache


async def test_trained_event_preloads_for_owner():
    loader = FakeLoader()
    cache, _ = make_cache(loader)
    preloaded: list[tuple[str, str]] = []

    async def preload(model_id: str, owner: str) -> None:
        preloaded.append((model_id, owner))
        await cache.get(model_id, User(id=owner))

    listener = ModelEventListener(client=None, cache=cache, preload=preload)
    event = {"event": "model.trained", "model_id": "a", "user_id": "alice"}
    await listener.handle(json.dumps(event))
    await asyncio.sleep(0.05)

    assert preloaded == [("a", "alice")]
    assert "a" in cache


async def test_malformed_event_is_skipped():
    loader = FakeLoader()
    cache, _ = make_cache(loader)
    await cache.get("a", ALICE)
    listener = ModelEventListener(client=None, cache=cache)

    await listener.handle(b"not json")
    await listener.handle(json.dumps({"event": "model.deleted"}))

    assert "a" in cache
    assert listener.events_handled == 0


async def test_status_lists_only_own_entries():
    loader = FakeLoader()
    loader.owners["b"] = "bob"
    cache, _ = make_cache(loader)
    await cache.get("a", ALICE)
    await cache.get("b", BOB)
    await cache.get("b", BOB)
    status = cache.status(ALICE, {"state": "done"})

    assert status.scope == "own"
    assert [entry.model_id for entry in status.entries] == ["a"]
    assert status.total_entries == 1
    assert status.total_bytes == 100
    assert status.hits == 0
    assert status.misses is None
    assert status.evictions is None
    assert status.loads is None
    assert status.load_ms_mean is None


async def test_admin_status_has_whole_cache_totals():
    loader = FakeLoader()
    loader.owners["b"] = "bob"
    cache, _ = make_cache(loader)
    await cache.get("a", ALICE)
    await cache.get("b", BOB)
    await cache.get("b", BOB)
    status = cache.status(User(id="root", role="admin"), {"state": "done"})

    assert status.scope == "all"
    assert status.entries == []
    assert status.total_entries == 2
    assert status.total_bytes == 200
    assert status.hits == 1
    assert status.misses == 2
    assert status.loads == 2
