"""Request and response bodies of the training-job endpoints."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from narrative_common.ids import OBJECT_ID_PATTERN

ModelType = Literal[
    "auto",
    "logistic_regression",
    "linear_regression",
    "random_forest",
    "gradient_boosting",
    "neural_network",
]
ProblemType = Literal["auto", "classification", "regression"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobCreate(BaseModel):
    # Checked here because the id becomes part of the datasets service's URL.
    dataset_id: str = Field(
        pattern=OBJECT_ID_PATTERN,
        description="Id of the dataset: 24 lowercase hexadecimal characters.",
    )
    target: str = Field(min_length=1, description="Column to predict.")
    model_type: ModelType = "auto"
    problem_type: ProblemType = "auto"
    include_columns: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Identifier, text or leaking columns to keep as features.",
    )
    name: str | None = Field(None, max_length=200)


class Progress(BaseModel):
    fraction: float = Field(description="0 when queued, 1 when finished.")
    stage: str


class StageTiming(BaseModel):
    stage: str
    seconds: float


class Timings(BaseModel):
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queued_seconds: float | None = None
    run_seconds: float | None = None
    stages: list[StageTiming] = []


class Warning_(BaseModel):
    kind: str
    column: str
    message: str
    score: float | None = None


class Retry(BaseModel):
    at: datetime
    reason: str


class JobOut(BaseModel):
    id: str
    name: str
    dataset_id: str
    target: str
    model_type: str
    problem_type: str
    include_columns: list[str]
    state: JobState
    progress: Progress
    attempt: int
    timings: Timings
    message: str | None = Field(None, description="Why the job failed or stopped.")
    model_id: str | None = None
    warnings: list[Warning_] = []
    retries: list[Retry] = []


def job_out(record: dict) -> JobOut:
    created = record["created_at"]
    started = record.get("started_at")
    finished = record.get("finished_at")
    queued_seconds = (started - created).total_seconds() if started else None
    run_seconds = (finished - started).total_seconds() if started and finished else None
    return JobOut(
        id=record["_id"],
        name=record["name"],
        dataset_id=record["dataset_id"],
        target=record["target"],
        model_type=record.get("resolved_model_type") or record["model_type"],
        problem_type=record.get("resolved_problem_type") or record["problem_type"],
        include_columns=record.get("include_columns", []),
        state=record["state"],
        progress=Progress(
            fraction=record.get("progress", 0.0), stage=record.get("stage", "queued")
        ),
        attempt=record.get("attempt", 1),
        timings=Timings(
            created_at=created,
            started_at=started,
            finished_at=finished,
            queued_seconds=queued_seconds,
            run_seconds=run_seconds,
            stages=record.get("stage_timings", []),
        ),
        message=record.get("message"),
        model_id=record.get("model_id"),
        warnings=record.get("warnings", []),
        retries=record.get("retries", []),
    )


class CancelledJobs(BaseModel):
    cancelled: list[str] = Field(description="Ids of the jobs this call cancelled.")
