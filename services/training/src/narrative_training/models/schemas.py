"""Response bodies of the model endpoints.

Column names may contain '.', '$', spaces or any Unicode, so they are never
used as keys: every per-column fact is a list of objects with a `name`.
"""

from datetime import datetime

from pydantic import BaseModel, Field


class InputColumn(BaseModel):
    name: str = Field(description="Column name in the dataset.")
    type: str = Field(description="numeric or categorical.")
    onnx_input: str = Field(description="Name of the ONNX input that carries it.")
    categories: list[str] | None = Field(
        None, description="Categories seen in training; others are ignored."
    )
    missing_value: str | None = Field(
        None, description="What to send for a missing categorical value."
    )


class MetricValue(BaseModel):
    cv_mean: float | None = None
    cv_std: float | None = None
    test: float | None = None


class Artifact(BaseModel):
    bucket: str
    key: str
    bytes: int
    sha256: str


class ModelOut(BaseModel):
    id: str
    name: str
    dataset_id: str
    job_id: str | None = None
    target: str
    problem_type: str
    model_type: str
    input_schema: list[InputColumn]
    class_labels: list[str] | None = None
    positive_class: str | None = None
    metrics: dict[str, MetricValue]
    baseline_metrics: dict[str, float | None]
    selection_metric: str
    leaderboard: list[dict]
    feature_importances: list[dict]
    excluded_columns: list[dict]
    warnings: list[dict]
    parity: dict
    rows: dict[str, int]
    library_versions: dict[str, str]
    created_at: datetime


class InternalModelOut(ModelOut):
    owner: str
    artifact: Artifact


class ModelSummary(BaseModel):
    id: str
    name: str


class ActiveJob(BaseModel):
    id: str
    state: str = Field(description="queued or running.")


class ModelSummaries(BaseModel):
    items: list[ModelSummary]
    active_jobs: list[ActiveJob] = Field(
        default_factory=list,
        description="The user's queued and running jobs on the dataset.",
    )


def model_out(document: dict, internal: bool = False) -> ModelOut:
    fields = dict(document)
    fields["id"] = fields.pop("_id")
    if internal:
        return InternalModelOut(**fields)
    return ModelOut(**fields)
