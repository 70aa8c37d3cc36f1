"""The `training_jobs` collection: the source of truth for a job's state.

Every state change is a conditional update on the current state (and, for a
running job, on the attempt number), so a cancelled job never turns into a
succeeded one, and a late duplicate run of a retried job changes nothing.
"""

from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "training_jobs"

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
ACTIVE_STATES = (QUEUED, RUNNING)
# A user's active jobs on one dataset are listed and cancelled up to this many.
MAX_ACTIVE_LISTED = 1000


def now() -> datetime:
    return datetime.now(UTC)


class JobRepository:
    def __init__(self, database: AsyncDatabase) -> None:
        self.collection = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("owner", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.collection.create_index(
            [("state", ASCENDING), ("heartbeat_at", ASCENDING)]
        )
        await self.collection.create_index(
            [("owner", ASCENDING), ("dataset_id", ASCENDING), ("state", ASCENDING)]
        )

    async def insert(self, record: dict) -> None:
        await self.collection.insert_one(record)

    async def delete(self, job_id: str) -> None:
        await self.collection.delete_one({"_id": job_id})

    async def get(self, job_id: str, owner: str | None = None) -> dict | None:
        query: dict = {"_id": job_id}
        if owner is not None:
            query["owner"] = owner
        return await self.collection.find_one(query)

    async def list_page(self, owner: str, limit: int, offset: int) -> tuple[list, int]:
        query = {"owner": owner}
        total = await self.collection.count_documents(query)
        cursor = (
            self.collection.find(query, {"dataset": 0})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return await cursor.to_list(length=limit), total

    async def claim(self, job_id: str, attempt: int) -> dict | None:
        """Move a queued job to running for this attempt, or return None."""
        stamp = now()
        return await self.collection.find_one_and_update(
            {"_id": job_id, "state": QUEUED, "attempt": attempt},
            {
                "$set": {
                    "state": RUNNING,
                    "started_at": stamp,
                    "heartbeat_at": stamp,
                    "stage": "loading_data",
                    "progress": 0.01,
                }
            },
            return_document=ReturnDocument.AFTER,
        )

    async def heartbeat(
        self, job_id: str, attempt: int, stage: str, progress: float
    ) -> dict | None:
        """Record liveness and progress; return the record, or None if no longer ours."""
        return await self.collection.find_one_and_update(
            {"_id": job_id, "state": RUNNING, "attempt": attempt},
            {"$set": {"heartbeat_at": now(), "stage": stage, "progress": progress}},
            projection={"state": 1},
            return_document=ReturnDocument.AFTER,
        )

    async def finish(self, job_id: str, attempt: int, state: str, fields: dict) -> bool:
        """Set a final state on a running job of this attempt; False if it moved on."""
        result = await self.collection.update_one(
            {"_id": job_id, "state": RUNNING, "attempt": attempt},
            {"$set": {"state": state, "finished_at": now(), **fields}},
        )
        return result.modified_count == 1

    async def release(
        self, job_id: str, attempt: int, reason: str | None = None
    ) -> bool:
        """Put a running job back to queued for the same attempt (arq will retry).

        A `reason` is added to the job's retries.
        """
        update: dict = {"$set": {"state": QUEUED, "stage": "queued", "progress": 0.0}}
        if reason is not None:
            update["$push"] = {"retries": {"at": now(), "reason": reason}}
        result = await self.collection.update_one(
            {"_id": job_id, "state": RUNNING, "attempt": attempt}, update
        )
        return result.modified_count == 1

    async def cancel(self, job_id: str, owner: str) -> dict | None:
        return await self.collection.find_one_and_update(
            {"_id": job_id, "owner": owner, "state": {"$in": list(ACTIVE_STATES)}},
            {
                "$set": {
                    "state": CANCELLED,
                    "finished_at": now(),
                    "message": "Cancelled at the owner's request.",
                }
            },
            return_document=ReturnDocument.AFTER,
        )

    async def active_for_dataset(self, owner: str, dataset_id: str) -> list[dict]:
        """Return `{"id", "state"}` of the owner's queued and running jobs on it."""
        cursor = self.collection.find(
            {
                "owner": owner,
                "dataset_id": dataset_id,
                "state": {"$in": list(ACTIVE_STATES)},
            },
            {"_id": 1, "state": 1},
        ).sort("created_at", ASCENDING)
        documents = await cursor.to_list(length=MAX_ACTIVE_LISTED)
        return [{"id": doc["_id"], "state": doc["state"]} for doc in documents]

    async def cancel_for_dataset(
        self, owner: str, dataset_id: str, message: str
    ) -> list[str]:
        """Cancel the owner's queued and running jobs on a dataset; return their ids.

        Each job is cancelled by its own conditional update, so a job that
        finished in the meantime keeps its final state and is not listed.
        """
        cancelled = []
        while True:
            batch = await self.active_for_dataset(owner, dataset_id)
            for job in batch:
                result = await self.collection.update_one(
                    {"_id": job["id"], "state": {"$in": list(ACTIVE_STATES)}},
                    {
                        "$set": {
                            "state": CANCELLED,
                            "finished_at": now(),
                            "message": message,
                        }
                    },
                )
                if result.modified_count == 1:
                    cancelled.append(job["id"])
            # Every listed job has left the active states now, so the next
            # batch contains only jobs beyond this one.
            if len(batch) < MAX_ACTIVE_LISTED:
                return cancelled

    async def start_storing(self, job_id: str, attempt: int) -> bool:
        """Mark a running job as storing its model; False if it was cancelled."""
        result = await self.collection.update_one(
            {"_id": job_id, "state": RUNNING, "attempt": attempt},
            {"$set": {"stage": "storing", "heartbeat_at": now()}},
        )
        return result.modified_count == 1

    async def fail_queued(self, job_id: str, message: str) -> None:
        await self.collection.update_one(
            {"_id": job_id, "state": QUEUED},
            {"$set": {"state": FAILED, "finished_at": now(), "message": message}},
        )

    async def stale_running(self, older_than: datetime) -> list[dict]:
        cursor = self.collection.find(
            {"state": RUNNING, "heartbeat_at": {"$lt": older_than}},
            {"_id": 1, "attempt": 1, "owner": 1},
        )
        return await cursor.to_list(length=1000)

    async def requeue(self, job_id: str, attempt: int, reason: str) -> bool:
        """Put a lost running job back in the queue as the next attempt."""
        result = await self.collection.update_one(
            {"_id": job_id, "state": RUNNING, "attempt": attempt},
            {
                "$set": {
                    "state": QUEUED,
                    "attempt": attempt + 1,
                    "stage": "queued",
                    "progress": 0.0,
                    "arq_job_id": arq_job_id(job_id, attempt + 1),
                },
                "$push": {"retries": {"at": now(), "reason": reason}},
            },
        )
        return result.modified_count == 1


def arq_job_id(job_id: str, attempt: int) -> str:
    """Name the arq job of one attempt; arq refuses a second job with the same id."""
    return f"{job_id}:{attempt}"
