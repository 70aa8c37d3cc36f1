"""The `analyses` collection: one document per analysis written."""

from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "analyses"


class AnalysisRepository:
    def __init__(self, database: AsyncDatabase) -> None:
        self._collection = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("owner", 1), ("created_at", DESCENDING)])
        await self._collection.create_index(
            [("owner", 1), ("subject_type", 1), ("subject_id", 1)]
        )

    async def ping(self) -> None:
        await self._collection.database.command("ping")

    async def insert(self, document: dict[str, Any]) -> str:
        result = await self._collection.insert_one(document)
        return str(result.inserted_id)

    async def get(self, owner: str, analysis_id: str) -> dict[str, Any] | None:
        try:
            object_id = ObjectId(analysis_id)
        except (InvalidId, TypeError):
            return None
        return await self._collection.find_one({"_id": object_id, "owner": owner})

    async def page(
        self, owner: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        query = {"owner": owner}
        total = await self._collection.count_documents(query)
        cursor = (
            self._collection.find(query, {"markdown": 0})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return await cursor.to_list(length=limit), total

    async def delete_subject(
        self, owner: str, subject_type: str, subject_id: str
    ) -> int:
        result = await self._collection.delete_many(
            {"owner": owner, "subject_type": subject_type, "subject_id": subject_id}
        )
        return result.deleted_count


def new_document(
    *,
    owner: str,
    subject_type: str,
    subject_id: str,
    analyzer: str,
    model: str | None,
    prompt_version: str,
    fallback_reason: str | None,
    input_hash: str,
    result: dict[str, Any],
    dropped_findings: list[dict[str, Any]],
    markdown: str,
    created_at: datetime,
) -> dict[str, Any]:
    return {
        "owner": owner,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "analyzer": analyzer,
        "model": model,
        "prompt_version": prompt_version,
        "fallback_reason": fallback_reason,
        "input_hash": input_hash,
        "result": result,
        "dropped_findings": dropped_findings,
        "markdown": markdown,
        "created_at": created_at,
    }
