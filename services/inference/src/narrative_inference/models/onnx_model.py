"""A loaded ONNX model: its metadata, its onnxruntime session and its usage."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from narrative_inference.models.schemas import ModelMetadata
from narrative_inference.models.validation import RecordValidator

PROBABILITIES_OUTPUT = "probabilities"
LABEL_OUTPUT = "label"
REGRESSION_OUTPUT = "variable"


@dataclass
class ModelOutputs:
    labels: list[Any]
    # Rows of class probabilities in `class_labels` order; None for regressors.
    probabilities: np.ndarray | None


@dataclass
class LoadedModel:
    metadata: ModelMetadata
    session: Any
    nbytes: int
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_used: float = field(default_factory=time.time)
    hits: int = 0
    load_ms: float = 0.0
    warmup_ms: float = 0.0

    def __post_init__(self) -> None:
        outputs = {output.name for output in self.session.get_outputs()}
        if self.metadata.problem_type == "classification":
            self._output_names = [LABEL_OUTPUT]
            if PROBABILITIES_OUTPUT in outputs:
                self._output_names.append(PROBABILITIES_OUTPUT)
        elif REGRESSION_OUTPUT in outputs:
            self._output_names = [REGRESSION_OUTPUT]
        else:
            self._output_names = [self.session.get_outputs()[0].name]
        self.class_labels = [str(label) for label in self.metadata.class_labels or []]
        self.validator = RecordValidator(self.metadata)

    @property
    def model_id(self) -> str:
        return self.metadata.id

    @property
    def owner(self) -> str:
        return self.metadata.owner

    def run(self, feed: dict[str, np.ndarray]) -> ModelOutputs:
        """Run the session on one feed of column arrays shaped [rows, 1]."""
        results = self.session.run(self._output_names, feed)
        if self.metadata.problem_type == "regression":
            return ModelOutputs(results[0].reshape(-1).tolist(), None)
        probabilities = results[1] if len(results) > 1 else None
        return ModelOutputs(results[0].reshape(-1).tolist(), probabilities)

    def warm_up(self) -> None:
        """Run one dummy row through validation and the session, so the first
        real request does not pay for first-call setup.

        Numeric inputs get 0.0 and categorical ones their first known category.
        """
        record: dict[str, Any] = {}
        for column in self.metadata.input_schema:
            if column.type == "numeric":
                record[column.name] = 0.0
            else:
                record[column.name] = column.categories[0] if column.categories else ""
        start = time.perf_counter()
        feed, _warnings = self.validator.feed([record], lambda _i, name: name)
        self.run(feed)
        self.warmup_ms = (time.perf_counter() - start) * 1000
