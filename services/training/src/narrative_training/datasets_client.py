"""Dataset metadata from the datasets service."""

from narrative_common.auth import User
from narrative_common.errors import NotFoundError
from narrative_common.service_client import ServiceClient


async def fetch_dataset(client: ServiceClient, dataset_id: str, user: User) -> dict:
    """Return the dataset's columns, rows and curated Parquet object, or raise 404."""
    try:
        return await client.get_json(f"/internal/v1/datasets/{dataset_id}", user)
    except NotFoundError as exc:
        raise NotFoundError(
            f"Dataset {dataset_id} was not found. List your datasets with "
            "GET /api/v1/datasets.",
            code="dataset_not_found",
        ) from exc
