"""Conversion between ingestion results, stored documents and response bodies."""

from datetime import datetime
from typing import Any

from narrative_datasets.datasets.repository import READY
from narrative_datasets.datasets.schemas import (
    Dataset,
    DatasetProfile,
    InternalDataset,
)
from narrative_datasets.ingest.pipeline import IngestResult


def build_document(
    *,
    dataset_id: str,
    user_id: str,
    name: str,
    filename: str,
    size_bytes: int,
    result: IngestResult,
    raw_object: dict[str, str],
    curated_object: dict[str, str],
    created_at: datetime,
) -> dict[str, Any]:
    profile = result.profile
    columns = [
        {
            "name": column.name,
            "type": column.kind.value,
            "dtype": column.dtype,
            "missing": stats["missing"],
            "distinct": stats["distinct"],
        }
        for column, stats in zip(result.columns, profile["columns"], strict=True)
    ]
    cells = profile["rows"] * profile["column_count"]
    return {
        "_id": dataset_id,
        "user_id": user_id,
        "name": name,
        "filename": filename,
        "status": READY,
        "rows": profile["rows"],
        "column_count": profile["column_count"],
        "columns": columns,
        "size_bytes": size_bytes,
        "source": result.source,
        "created_at": created_at,
        "profile_summary": {
            "missing_cells": profile["missing_cells"],
            "missing_share": round(profile["missing_cells"] / cells, 6) if cells else 0,
            "duplicate_rows": profile["duplicate_rows"],
            "pii_columns": [item["column"] for item in result.pii],
        },
        "quality": result.quality,
        "raw_object": raw_object,
        "curated_object": curated_object,
        "profile": profile,
    }


def to_dataset(document: dict[str, Any]) -> Dataset:
    return Dataset.model_validate({"id": document["_id"], **document})


def to_internal_dataset(document: dict[str, Any]) -> InternalDataset:
    return InternalDataset.model_validate({"id": document["_id"], **document})


def to_profile(document: dict[str, Any]) -> DatasetProfile:
    profile = document["profile"]
    return DatasetProfile(
        dataset_id=document["_id"],
        rows=profile["rows"],
        column_count=profile["column_count"],
        missing_cells=profile["missing_cells"],
        duplicate_rows=profile["duplicate_rows"],
        columns=profile["columns"],
        correlations=profile["correlations"],
        pii=profile.get("pii", []),
        quality=document["quality"],
    )
