"""Public analysis routes and the internal routes the owning services call."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from narrative_analysis.analysis.errors import AnalysisNotFoundError
from narrative_analysis.analysis.schemas import (
    Analysis,
    AnalysisSummary,
    DeletedAnalyses,
)
from narrative_analysis.analysis.service import AnalysisService
from narrative_common.auth import CurrentUser
from narrative_common.errors import (
    DependencyUnavailableError,
    NotFoundError,
    UnauthorizedError,
    error_responses,
)
from narrative_common.ids import ResourceId
from narrative_common.pagination import Page, Pagination

router = APIRouter(prefix="/api/v1/analysis", tags=["analysis"])
internal_router = APIRouter(prefix="/internal/v1/analysis", tags=["internal"])

Format = Annotated[
    Literal["json", "markdown"],
    Query(description="`markdown` returns the analysis as text/markdown."),
]

_MARKDOWN = {
    200: {
        "content": {
            "application/json": {},
            "text/markdown": {"schema": {"type": "string"}},
        }
    }
}


def get_service(request: Request) -> AnalysisService:
    return request.app.state.analysis


Service = Annotated[AnalysisService, Depends(get_service)]


def _respond(analysis: Analysis, output: str) -> Analysis | Response:
    if output == "markdown":
        return PlainTextResponse(analysis.markdown, media_type="text/markdown")
    return analysis


@router.post(
    "/datasets/{dataset_id}",
    response_model=Analysis,
    responses=_MARKDOWN
    | error_responses(UnauthorizedError, NotFoundError, DependencyUnavailableError),
)
async def analyze_dataset(
    dataset_id: ResourceId, user: CurrentUser, service: Service, format: Format = "json"
):
    """Analyze a dataset's profile: findings, risks, targets and next steps."""
    return _respond(await service.analyze_dataset(user, dataset_id), format)


@router.post(
    "/models/{model_id}",
    response_model=Analysis,
    responses=_MARKDOWN
    | error_responses(UnauthorizedError, NotFoundError, DependencyUnavailableError),
)
async def analyze_model(
    model_id: ResourceId, user: CurrentUser, service: Service, format: Format = "json"
):
    """Analyze a trained model: what drives it, where it is weak, next steps."""
    return _respond(await service.analyze_model(user, model_id), format)


@router.get(
    "",
    response_model=Page[AnalysisSummary],
    responses=error_responses(UnauthorizedError),
)
async def list_analyses(
    user: CurrentUser, service: Service, page: Pagination
) -> Page[AnalysisSummary]:
    """List the caller's analyses, newest first."""
    items, total = await service.page(user, page.limit, page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/{analysis_id}",
    response_model=Analysis,
    responses=_MARKDOWN | error_responses(UnauthorizedError, AnalysisNotFoundError),
)
async def get_analysis(
    analysis_id: ResourceId,
    user: CurrentUser,
    service: Service,
    format: Format = "json",
):
    """Return one stored analysis, as JSON or Markdown."""
    return _respond(await service.get(user, analysis_id), format)


@internal_router.delete(
    "/datasets/{dataset_id}",
    response_model=DeletedAnalyses,
    responses=error_responses(UnauthorizedError),
)
async def delete_dataset_analyses(
    dataset_id: ResourceId, user: CurrentUser, service: Service
) -> DeletedAnalyses:
    """Delete the caller's analyses of a dataset; the datasets service calls it."""
    return DeletedAnalyses(
        deleted=await service.delete_subject(user, "dataset", dataset_id)
    )


@internal_router.delete(
    "/models/{model_id}",
    response_model=DeletedAnalyses,
    responses=error_responses(UnauthorizedError),
)
async def delete_model_analyses(
    model_id: ResourceId, user: CurrentUser, service: Service
) -> DeletedAnalyses:
    """Delete the caller's analyses of a model; the training service calls it."""
    return DeletedAnalyses(
        deleted=await service.delete_subject(user, "model", model_id)
    )
