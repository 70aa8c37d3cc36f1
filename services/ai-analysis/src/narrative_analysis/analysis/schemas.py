"""Published schema of an analysis: the structured insights and their envelope.

`DatasetInsights` and `ModelInsights` are also the JSON schemas that OpenAI's
reply must match (structured output in strict mode), so every field is
required and no object accepts extra keys.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "critical"]
ProblemType = Literal["classification", "regression"]
SubjectType = Literal["dataset", "model"]
AnalyzerName = Literal["openai", "local"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(_Strict):
    """A number and the profile or model-metadata field it was read from."""

    value: float = Field(description="The number as used in the text.")
    source: str = Field(
        description=(
            "Path of the field the number comes from, such as "
            "`columns[Churn].top_values[Yes].share` or `metrics.roc_auc`."
        )
    )


class Finding(_Strict):
    """One observation, with every number in it backed by evidence."""

    title: str
    detail: str
    severity: Severity
    columns: list[str] = Field(description="Columns or features it concerns.")
    evidence: list[Evidence]


class TargetRecommendation(_Strict):
    """A column worth predicting and the kind of model it needs."""

    column: str
    problem_type: ProblemType
    reason: str
    evidence: list[Evidence]


class ModelTypeRecommendation(_Strict):
    """A model family suited to the data, and why."""

    model_type: str
    reason: str


class PredictionDriver(_Strict):
    """A feature that weighs on the model's predictions."""

    feature: str
    explanation: str
    evidence: list[Evidence]


class DatasetInsights(_Strict):
    """Narrative analysis of a dataset's profile."""

    summary: str
    key_findings: list[Finding]
    data_quality_risks: list[Finding]
    recommended_targets: list[TargetRecommendation]
    recommended_model_types: list[ModelTypeRecommendation]
    next_steps: list[str]


class ModelInsights(_Strict):
    """Narrative analysis of a trained model's metrics."""

    summary: str
    key_findings: list[Finding]
    prediction_drivers: list[PredictionDriver]
    weaknesses: list[Finding]
    data_quality_risks: list[Finding]
    next_steps: list[str]


class DroppedFinding(BaseModel):
    """A finding removed because one of its numbers did not match its source."""

    section: str
    title: str
    reason: str
    detail: str


class Analysis(BaseModel):
    """A stored analysis of a dataset or a model."""

    id: str
    subject_type: SubjectType
    subject_id: str
    analyzer: AnalyzerName = Field(description="Which analyzer wrote the result.")
    model: str | None = Field(
        description="The OpenAI model, when the OpenAI analyzer wrote the result."
    )
    prompt_version: str
    fallback_reason: str | None = Field(
        description="Why the local analyzer wrote the result although OpenAI is set up."
    )
    cached: bool = Field(description="True when served from the result cache.")
    created_at: datetime
    result: DatasetInsights | ModelInsights
    dropped_findings: list[DroppedFinding] = Field(
        description="Findings removed by the fact check, with the reason."
    )
    markdown: str = Field(description="The result rendered as Markdown.")


class AnalysisSummary(BaseModel):
    """An analysis in a list: its subject and origin, without the full result."""

    id: str
    subject_type: SubjectType
    subject_id: str
    analyzer: AnalyzerName
    model: str | None
    prompt_version: str
    fallback_reason: str | None
    created_at: datetime
    summary: str


class DeletedAnalyses(BaseModel):
    deleted: int
