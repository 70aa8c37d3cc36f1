"""The worker's last step against real MongoDB: a cancelled job stores nothing."""

import uuid

import pytest
from pymongo import AsyncMongoClient

from narrative_training.jobs import repository as repo
from narrative_training.jobs.runner import ProgressTracker
from narrative_training.jobs.tasks import _store
from narrative_training.models.repository import ModelRepository


class RecordingStore:
    """An object store that records writes; none are expected."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    async def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self.writes.append(key)


@pytest.fixture
async def database(infra):
    client = AsyncMongoClient(infra.env["MONGODB_URI"])
    name = f"training_store_test_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_cancelled_job_stores_no_model(database):
    jobs = repo.JobRepository(database)
    models = ModelRepository(database)
    job_id = "6b12f5ce2201f7436d5d09ed"
    record = {
        "_id": job_id,
        "owner": "analyst-1",
        "dataset_id": "6b12f5ce2201f7436d5d0900",
        "state": repo.CANCELLED,
        "attempt": 1,
        "created_at": repo.now(),
    }
    await jobs.insert(record)
    store = RecordingStore()
    ctx = {"settings": None, "jobs": jobs, "models": models, "store": store}

    # The run's result is never read, because the cancelled state stops
    # _store before it builds the model document.
    outcome = await _store(ctx, record, ProgressTracker(), None, 1)

    assert outcome == repo.CANCELLED
    assert store.writes == []
    assert await models.collection.count_documents({}) == 0
    stored = await jobs.get(job_id)
    assert stored["state"] == repo.CANCELLED
