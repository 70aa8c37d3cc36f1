"""Model endpoints: public listing and deletion, internal lookups."""

from fastapi import APIRouter, Query, Request, Response, status

from narrative_common.auth import CurrentUser
from narrative_common.errors import NotFoundError, UnauthorizedError, error_responses
from narrative_common.ids import OBJECT_ID_PATTERN, ResourceId
from narrative_common.pagination import Page, Pagination
from narrative_training.models import service
from narrative_training.models.schemas import (
    ActiveJob,
    InternalModelOut,
    ModelOut,
    ModelSummaries,
    ModelSummary,
    model_out,
)

router = APIRouter(prefix="/api/v1/models", tags=["models"])
internal_router = APIRouter(prefix="/internal/v1/models", tags=["internal"])


@router.get(
    "", response_model=Page[ModelOut], responses=error_responses(UnauthorizedError)
)
async def list_models(
    user: CurrentUser, page: Pagination, request: Request
) -> Page[ModelOut]:
    """List your trained models, newest first."""
    documents, total = await request.app.state.models.list_page(
        user.id, page.limit, page.offset
    )
    return Page(
        items=[model_out(d) for d in documents],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{model_id}",
    response_model=ModelOut,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_model(
    model_id: ResourceId, user: CurrentUser, request: Request
) -> ModelOut:
    """Show a model's metrics, input schema, warnings and leaderboard."""
    document = await request.app.state.models.get(model_id, user.id)
    if document is None:
        raise service.model_not_found(model_id)
    return model_out(document)


@router.delete(
    "/{model_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def delete_model(
    model_id: ResourceId, user: CurrentUser, request: Request
) -> Response:
    """Delete a model's ONNX artifact and its metadata."""
    await service.delete_model(model_id, user, request.app.state)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal_router.get(
    "",
    response_model=ModelSummaries,
    responses=error_responses(UnauthorizedError),
)
async def list_models_for_dataset(
    user: CurrentUser,
    request: Request,
    dataset_id: str = Query(pattern=OBJECT_ID_PATTERN),
) -> ModelSummaries:
    """List the user's models trained on one dataset and jobs still running on it."""
    state = request.app.state
    items = await state.models.names_for_dataset(user.id, dataset_id)
    active = await state.jobs.active_for_dataset(user.id, dataset_id)
    return ModelSummaries(
        items=[ModelSummary(**item) for item in items],
        active_jobs=[ActiveJob(**job) for job in active],
    )


@internal_router.get(
    "/{model_id}",
    response_model=InternalModelOut,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_model_internal(
    model_id: ResourceId, user: CurrentUser, request: Request
) -> ModelOut:
    """Return a model's metadata and artifact location to a sibling service."""
    document = await request.app.state.models.get(model_id, user.id)
    if document is None:
        raise service.model_not_found(model_id)
    return model_out(document, internal=True)
