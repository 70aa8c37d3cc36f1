"""Public and internal HTTP routes of the datasets service."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from narrative_common.auth import CurrentUser
from narrative_common.errors import (
    BadRequestError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnprocessableError,
    error_responses,
    field_error,
)
from narrative_common.ids import ResourceId
from narrative_common.pagination import Page, Pagination
from narrative_datasets.datasets.schemas import (
    Dataset,
    DatasetProfile,
    InternalDataset,
    Preview,
)
from narrative_datasets.datasets.service import DatasetService
from narrative_datasets.ingest.errors import UnsupportedFileTypeError

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])
internal_router = APIRouter(prefix="/internal/v1/datasets", tags=["internal"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "sheet": {
                            "type": "string",
                            "description": "XLSX sheet name; the first sheet if absent.",
                        },
                        "name": {
                            "type": "string",
                            "description": "Dataset name; the file name if absent.",
                        },
                    },
                }
            }
        },
    }
}


def get_service(request: Request) -> DatasetService:
    return request.app.state.datasets


Service = Annotated[DatasetService, Depends(get_service)]


@router.post(
    "",
    status_code=201,
    response_model=Dataset,
    openapi_extra=UPLOAD_BODY,
    responses=error_responses(
        BadRequestError,
        UnauthorizedError,
        PayloadTooLargeError,
        UnsupportedFileTypeError,
        UnprocessableError,
        DependencyUnavailableError,
    ),
)
async def upload_dataset(request: Request, user: CurrentUser, service: Service):
    """Upload a CSV or XLSX file; it is parsed, typed, profiled and stored."""
    return await service.upload(user, request)


@router.get(
    "", response_model=Page[Dataset], responses=error_responses(UnauthorizedError)
)
async def list_datasets(user: CurrentUser, service: Service, page: Pagination):
    """List the caller's datasets, newest first."""
    return await service.list_page(user, page)


@router.get(
    "/{dataset_id}",
    response_model=Dataset,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_dataset(dataset_id: ResourceId, user: CurrentUser, service: Service):
    """Return one dataset's columns, types, profile summary and quality score."""
    return await service.get(user, dataset_id)


@router.get(
    "/{dataset_id}/preview",
    response_model=Preview,
    responses=error_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def preview_dataset(
    dataset_id: ResourceId,
    request: Request,
    user: CurrentUser,
    service: Service,
    offset: Annotated[int, Query(ge=0, description="First row, 0-based.")] = 0,
    limit: Annotated[int, Query(ge=1, description="Rows to return.")] = 50,
):
    """Return a window of rows of the curated copy."""
    max_rows = request.app.state.settings.preview_max_rows
    if limit > max_rows:
        raise field_error("query.limit", f"must be at most {max_rows}")
    return await service.preview(user, dataset_id, offset, limit)


@router.get(
    "/{dataset_id}/profile",
    response_model=DatasetProfile,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_profile(dataset_id: ResourceId, user: CurrentUser, service: Service):
    """Return the full profile: column statistics, correlations, PII and quality."""
    return await service.profile(user, dataset_id)


@router.delete(
    "/{dataset_id}",
    status_code=204,
    responses=error_responses(
        UnauthorizedError, NotFoundError, ConflictError, DependencyUnavailableError
    ),
)
async def delete_dataset(
    dataset_id: ResourceId,
    user: CurrentUser,
    service: Service,
    cascade: Annotated[
        bool, Query(description="Also delete the models trained on the dataset.")
    ] = False,
) -> Response:
    """Delete the dataset's objects and metadata, and its models when cascading."""
    await service.delete(user, dataset_id, cascade)
    return Response(status_code=204)


@internal_router.get(
    "/{dataset_id}",
    response_model=InternalDataset,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_internal_dataset(
    dataset_id: ResourceId, user: CurrentUser, service: Service
):
    """Return a dataset with the bucket and key of its curated Parquet copy."""
    return await service.get_internal(user, dataset_id)


@internal_router.get(
    "/{dataset_id}/profile",
    response_model=DatasetProfile,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_internal_profile(
    dataset_id: ResourceId, user: CurrentUser, service: Service
):
    """Return a dataset's full profile for a sibling service."""
    return await service.profile(user, dataset_id)
