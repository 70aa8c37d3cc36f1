"""Submitting, reading and cancelling training jobs (the API side)."""

from arq.connections import ArqRedis
from bson import ObjectId

from narrative_common.auth import User
from narrative_common.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    field_error,
)
from narrative_common.logging import get_logger
from narrative_training.datasets_client import fetch_dataset
from narrative_training.jobs import repository as repo
from narrative_training.jobs.checks import reject_if_unfit
from narrative_training.jobs.schemas import JobCreate
from narrative_training.pipeline.estimators import MODEL_TYPES, fits_problem

log = get_logger(__name__)

TRAINABLE_TARGET_TYPES = ("numeric", "categorical", "boolean")
TASK_NAME = "train_model"


def job_not_found(job_id: str) -> NotFoundError:
    return NotFoundError(
        f"Training job {job_id} was not found. List your jobs with "
        "GET /api/v1/training/jobs.",
        code="job_not_found",
    )


def validate_request(request: JobCreate, dataset: dict) -> None:
    """Check the target, the columns and the model type against the dataset."""
    types = {column["name"]: column["type"] for column in dataset.get("columns", [])}
    if request.target not in types:
        raise field_error(
            "body.target",
            f"'{request.target}' is not a column of dataset {request.dataset_id}. "
            f"Choose one of: {_preview(types)}.",
        )
    target_type = types[request.target]
    if target_type not in TRAINABLE_TARGET_TYPES:
        raise field_error(
            "body.target",
            f"'{request.target}' is a {target_type} column; a target must be "
            "numeric, categorical or boolean.",
        )
    if request.problem_type == "regression" and target_type != "numeric":
        raise field_error(
            "body.problem_type",
            f"regression needs a numeric target, and '{request.target}' is "
            f"{target_type}. Use 'classification' or 'auto'.",
        )
    unknown = [c for c in request.include_columns if c not in types]
    if unknown:
        raise field_error(
            "body.include_columns",
            f"not columns of dataset {request.dataset_id}: "
            f"{_preview(dict.fromkeys(unknown))}. Remove them or check their "
            "spelling.",
        )
    if request.problem_type != "auto" and not fits_problem(
        request.model_type, request.problem_type
    ):
        choices = ", ".join(MODEL_TYPES[request.problem_type])
        raise field_error(
            "body.model_type",
            f"'{request.model_type}' does not fit a {request.problem_type} "
            f"problem. Choose auto, {choices}.",
        )
    if request.problem_type == "auto":
        implied = "regression" if request.model_type == "linear_regression" else None
        if request.model_type == "logistic_regression":
            implied = "classification"
        if implied == "regression" and target_type != "numeric":
            raise field_error(
                "body.model_type",
                f"linear_regression needs a numeric target, and "
                f"'{request.target}' is {target_type}. Use logistic_regression "
                "or auto.",
            )
    if not dataset.get("curated_object"):
        raise ConflictError(
            f"Dataset {request.dataset_id} is still being processed. Try again "
            "when its status is ready.",
            code="dataset_not_ready",
        )


def _preview(names: dict) -> str:
    listed = ", ".join(f"'{name}'" for name in list(names)[:20])
    return listed + (", ..." if len(names) > 20 else "")


async def submit_job(
    request: JobCreate,
    user: User,
    jobs: repo.JobRepository,
    datasets_client,
    queue: ArqRedis,
    queue_name: str,
) -> dict:
    dataset = await fetch_dataset(datasets_client, request.dataset_id, user)
    validate_request(request, dataset)
    reject_if_unfit(request, dataset)
    job_id = str(ObjectId())
    record = {
        "_id": job_id,
        "owner": user.id,
        "name": request.name
        or f"{request.target} from {dataset.get('name', 'dataset')}",
        "dataset_id": request.dataset_id,
        "dataset": {
            "name": dataset.get("name"),
            "rows": dataset.get("rows"),
            "columns": [
                {"name": c["name"], "type": c["type"]} for c in dataset["columns"]
            ],
            "curated_object": dataset["curated_object"],
        },
        "target": request.target,
        "model_type": request.model_type,
        "problem_type": request.problem_type,
        "include_columns": request.include_columns,
        "state": repo.QUEUED,
        "stage": "queued",
        "progress": 0.0,
        "attempt": 1,
        "arq_job_id": repo.arq_job_id(job_id, 1),
        "created_at": repo.now(),
        "warnings": [],
        "retries": [],
    }
    await jobs.insert(record)
    try:
        await queue.enqueue_job(
            TASK_NAME, job_id, 1, _job_id=record["arq_job_id"], _queue_name=queue_name
        )
    except Exception as exc:
        # No job record may stay queued without its queue entry.
        log.error("training.job.enqueue_failed", job_id=job_id, error=str(exc))
        await jobs.delete(job_id)
        raise DependencyUnavailableError(
            "The training queue (Redis) is unavailable, so the job was not "
            "created. Try again shortly."
        ) from exc
    log.info(
        "training.job.queued",
        job_id=job_id,
        dataset_id=request.dataset_id,
        model_type=request.model_type,
    )
    return record


async def cancel_job(job_id: str, user: User, jobs: repo.JobRepository) -> dict:
    record = await jobs.cancel(job_id, user.id)
    if record is not None:
        log.info("training.job.cancelled", job_id=job_id)
        return record
    existing = await jobs.get(job_id, user.id)
    if existing is None:
        raise job_not_found(job_id)
    raise ConflictError(
        f"Training job {job_id} is already {existing['state']}; only queued or "
        "running jobs can be cancelled.",
        code="job_finished",
    )


async def cancel_dataset_jobs(
    dataset_id: str, user: User, jobs: repo.JobRepository
) -> list[str]:
    message = (
        f"Cancelled because dataset {dataset_id} is being deleted; no model was stored."
    )
    cancelled = await jobs.cancel_for_dataset(user.id, dataset_id, message)
    log.info(
        "training.jobs.cancelled_for_dataset",
        dataset_id=dataset_id,
        job_ids=cancelled,
    )
    return cancelled
