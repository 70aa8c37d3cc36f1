"""Dataset metadata in the `user_data` collection, always filtered by owner.

Column names are user data and may contain ".", "$" or any character, so
they appear only as values (`{"name": ...}` items in lists), never as
document keys.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "user_data"
READY = "ready"
DELETING = "deleting"
SUMMARY_PROJECTION = {"profile": 0}


class DatasetRepository:
    def __init__(self, database: AsyncDatabase) -> None:
        self.collection = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("user_id", 1), ("created_at", DESCENDING)], name="user_created"
        )

    async def insert(self, document: dict[str, Any]) -> None:
        await self.collection.insert_one(document)

    async def get(
        self, user_id: str, dataset_id: str, *, with_profile: bool = False
    ) -> dict[str, Any] | None:
        """Return a ready dataset of this owner, or None."""
        projection = None if with_profile else SUMMARY_PROJECTION
        return await self.collection.find_one(
            {"_id": dataset_id, "user_id": user_id, "status": READY}, projection
        )

    async def get_any_status(
        self, user_id: str, dataset_id: str
    ) -> dict[str, Any] | None:
        return await self.collection.find_one(
            {"_id": dataset_id, "user_id": user_id}, SUMMARY_PROJECTION
        )

    async def list_page(
        self, user_id: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        query = {"user_id": user_id, "status": READY}
        total = await self.collection.count_documents(query)
        cursor = (
            self.collection.find(query, SUMMARY_PROJECTION)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return await cursor.to_list(length=limit), total

    async def mark_deleting(self, user_id: str, dataset_id: str) -> None:
        """Hide the dataset as `deleting`, unclaimed, so that a retry finishes it."""
        await self.collection.update_one(
            {"_id": dataset_id, "user_id": user_id},
            {"$set": {"status": DELETING, "deleting_at": None}},
        )

    async def claim_for_deletion(
        self, user_id: str, dataset_id: str, status: str, stale_before: datetime
    ) -> bool:
        """Move the dataset to `deleting` and claim it; False when another request has.

        A `ready` dataset is claimed at most once. A `deleting` one is claimed
        only when no request holds it: its claim was released after a failure,
        or was taken before `stale_before` by a request that never finished.
        """
        query: dict[str, Any] = {"_id": dataset_id, "user_id": user_id}
        if status == READY:
            query["status"] = READY
        else:
            query["status"] = DELETING
            query["$or"] = [
                {"deleting_at": None},
                {"deleting_at": {"$lt": stale_before}},
            ]
        claimed = await self.collection.find_one_and_update(
            query,
            {"$set": {"status": DELETING, "deleting_at": datetime.now(UTC)}},
            projection={"_id": 1},
        )
        return claimed is not None

    async def release_claim(self, user_id: str, dataset_id: str, status: str) -> None:
        """Drop a deletion claim after a failure, leaving the dataset in `status`."""
        await self.collection.update_one(
            {"_id": dataset_id, "user_id": user_id, "status": DELETING},
            {"$set": {"status": status, "deleting_at": None}},
        )

    async def delete(self, user_id: str, dataset_id: str) -> bool:
        """Delete the document; False when it was already gone."""
        result = await self.collection.delete_one(
            {"_id": dataset_id, "user_id": user_id}
        )
        return result.deleted_count == 1

    async def ping(self) -> None:
        await self.collection.database.command("ping")
