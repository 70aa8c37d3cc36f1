"""The `trained_model` collection: one document per stored ONNX model."""

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "trained_model"


class ModelRepository:
    def __init__(self, database: AsyncDatabase) -> None:
        self.collection = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("owner", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.collection.create_index(
            [("owner", ASCENDING), ("dataset_id", ASCENDING)]
        )

    async def insert(self, document: dict) -> None:
        await self.collection.insert_one(document)

    async def get(self, model_id: str, owner: str) -> dict | None:
        return await self.collection.find_one({"_id": model_id, "owner": owner})

    async def delete(self, model_id: str, owner: str) -> bool:
        result = await self.collection.delete_one({"_id": model_id, "owner": owner})
        return result.deleted_count == 1

    async def list_page(self, owner: str, limit: int, offset: int) -> tuple[list, int]:
        query = {"owner": owner}
        total = await self.collection.count_documents(query)
        cursor = (
            self.collection.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return await cursor.to_list(length=limit), total

    async def names_for_dataset(self, owner: str, dataset_id: str) -> list[dict]:
        cursor = self.collection.find(
            {"owner": owner, "dataset_id": dataset_id}, {"_id": 1, "name": 1}
        ).sort("created_at", DESCENDING)
        return [{"id": doc["_id"], "name": doc["name"]} async for doc in cursor]
