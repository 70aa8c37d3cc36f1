"""Public training-job endpoints."""

from fastapi import APIRouter, Query, Request, status

from narrative_common.auth import CurrentUser
from narrative_common.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    error_responses,
)
from narrative_common.ids import OBJECT_ID_PATTERN, ResourceId
from narrative_common.pagination import Page, Pagination
from narrative_training.jobs import service
from narrative_training.jobs.schemas import CancelledJobs, JobCreate, JobOut, job_out

router = APIRouter(prefix="/api/v1/training/jobs", tags=["training"])
internal_router = APIRouter(prefix="/internal/v1/jobs", tags=["internal"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=error_responses(
        UnauthorizedError,
        NotFoundError,
        ConflictError,
        UnprocessableError,
        DependencyUnavailableError,
    ),
)
async def create_job(body: JobCreate, user: CurrentUser, request: Request) -> JobOut:
    """Queue a training job on a dataset and return its id."""
    state = request.app.state
    record = await service.submit_job(
        body, user, state.jobs, state.datasets, state.queue, state.settings.queue_name
    )
    return job_out(record)


@router.get(
    "",
    response_model=Page[JobOut],
    responses=error_responses(UnauthorizedError),
)
async def list_jobs(
    user: CurrentUser, page: Pagination, request: Request
) -> Page[JobOut]:
    """List your training jobs, newest first."""
    records, total = await request.app.state.jobs.list_page(
        user.id, page.limit, page.offset
    )
    return Page(
        items=[job_out(r) for r in records],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def get_job(job_id: ResourceId, user: CurrentUser, request: Request) -> JobOut:
    """Show a job's state, progress, timings and, on failure, the reason."""
    record = await request.app.state.jobs.get(job_id, user.id)
    if record is None:
        raise service.job_not_found(job_id)
    return job_out(record)


@router.delete(
    "/{job_id}",
    response_model=JobOut,
    responses=error_responses(UnauthorizedError, NotFoundError, ConflictError),
)
async def cancel_job(job_id: ResourceId, user: CurrentUser, request: Request) -> JobOut:
    """Cancel a queued or running job."""
    record = await service.cancel_job(job_id, user, request.app.state.jobs)
    return job_out(record)


@internal_router.post(
    "/cancel",
    response_model=CancelledJobs,
    responses=error_responses(UnauthorizedError),
)
async def cancel_dataset_jobs(
    user: CurrentUser,
    request: Request,
    dataset_id: str = Query(pattern=OBJECT_ID_PATTERN),
) -> CancelledJobs:
    """Cancel the user's queued and running jobs on a dataset being deleted."""
    cancelled = await service.cancel_dataset_jobs(
        dataset_id, user, request.app.state.jobs
    )
    return CancelledJobs(cancelled=cancelled)
