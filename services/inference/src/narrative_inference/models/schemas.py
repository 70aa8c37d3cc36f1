"""Model metadata from the training service, and the prediction API's bodies."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class InputColumn(BaseModel):
    """One column of a model's input, fed to the ONNX input `onnx_input`."""

    name: str
    type: Literal["numeric", "categorical"]
    categories: list[str] | None = None
    onnx_input: str


class Artifact(BaseModel):
    bucket: str
    key: str
    bytes: int = Field(ge=0)
    sha256: str


class ModelMetadata(BaseModel):
    """What GET /internal/v1/models/{id} on the training service returns."""

    id: str
    owner: str
    problem_type: Literal["classification", "regression"]
    model_type: str
    target: str | None = None
    class_labels: list[Any] | None = None
    input_schema: list[InputColumn]
    artifact: Artifact


class PredictRequest(BaseModel):
    """Either `record` (one row) or `records` (a list of rows), each a column map."""

    record: dict[str, Any] | None = None
    records: list[dict[str, Any]] | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"record": {"tenure": 12, "Contract": "Month-to-month"}},
                {"records": [{"tenure": 12}, {"tenure": 40}]},
            ]
        }
    }


class Prediction(BaseModel):
    prediction: Any
    probabilities: dict[str, float] | None = None


class PredictResponse(BaseModel):
    model_id: str
    predictions: list[Prediction]
    latency_ms: float
    warnings: list[str] = []


class CacheEntryStatus(BaseModel):
    model_id: str
    model_type: str
    bytes: int
    loaded_at: datetime
    last_used: datetime
    hits: int
    load_ms: float
    warmup_ms: float


class CacheStatus(BaseModel):
    """The caller's cached models, and totals over the caller's or all models.

    With `scope` "own" (a normal user) the totals and `hits` cover the
    caller's entries, and the whole-cache counters are null. With `scope`
    "all" (an admin) every total and counter covers all users' models.
    """

    scope: Literal["own", "all"]
    entries: list[CacheEntryStatus]
    total_entries: int
    total_bytes: int
    max_entries: int
    max_bytes: int
    hits: int
    misses: int | None = None
    evictions: dict[str, int] | None = None
    loads: int | None = None
    load_ms_mean: float | None = None
    load_ms_max: float | None = None
    preload: dict[str, Any]
