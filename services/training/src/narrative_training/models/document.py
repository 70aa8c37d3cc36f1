"""Build the `trained_model` document from a finished training run."""

import hashlib
import math
from datetime import UTC, datetime

import numpy as np
import onnxruntime
import pandas
import skl2onnx
import sklearn

from narrative_training.jobs.runner import RunResult
from narrative_training.pipeline.columns import MISSING_CATEGORY, NUMERIC
from narrative_training.pipeline.evaluate import SELECTION_METRIC

LIBRARY_VERSIONS = {
    "scikit-learn": sklearn.__version__,
    "skl2onnx": skl2onnx.__version__,
    "onnxruntime": onnxruntime.__version__,
    "numpy": np.__version__,
    "pandas": pandas.__version__,
}


def artifact_key(owner: str, model_id: str) -> str:
    return f"models/{owner}/{model_id}/model.onnx"


def input_schema(result: RunResult) -> list[dict]:
    encoder = None
    prepare = result.outcome.pipeline.named_steps["prepare"]
    if "categorical" in prepare.named_transformers_:
        encoder = prepare.named_transformers_["categorical"]
    categorical = [f for f in result.outcome.plan.features if f.kind != NUMERIC]
    categories = {}
    if encoder is not None:
        for feature, values in zip(categorical, encoder.categories_, strict=True):
            categories[feature.input_name] = [str(v) for v in values]
    schema = []
    for feature in result.outcome.plan.features:
        entry = {
            "name": feature.name,
            "type": feature.kind,
            "onnx_input": feature.input_name,
        }
        if feature.kind != NUMERIC:
            entry["categories"] = categories.get(feature.input_name, [])
            entry["missing_value"] = MISSING_CATEGORY
        schema.append(entry)
    return schema


def clean_number(value):
    """Replace NaN and infinity, which JSON cannot carry, with None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_number(v) for v in value]
    return value


def model_document(
    *,
    model_id: str,
    job: dict,
    result: RunResult,
    bucket: str,
) -> dict:
    outcome = result.outcome
    classes = outcome.classes
    return clean_number(
        {
            "_id": model_id,
            "name": job["name"],
            "owner": job["owner"],
            "dataset_id": job["dataset_id"],
            "job_id": job["_id"],
            "target": job["target"],
            "problem_type": outcome.problem_type,
            "model_type": outcome.model_type,
            "input_schema": input_schema(result),
            "class_labels": classes,
            "positive_class": classes[1] if classes and len(classes) == 2 else None,
            "metrics": outcome.metrics,
            "baseline_metrics": outcome.baseline_metrics,
            "selection_metric": SELECTION_METRIC[outcome.problem_type],
            "leaderboard": outcome.leaderboard,
            "feature_importances": outcome.feature_importances,
            "excluded_columns": outcome.plan.excluded,
            "warnings": outcome.warnings,
            "parity": result.parity,
            "rows": outcome.rows,
            "library_versions": LIBRARY_VERSIONS,
            "artifact": {
                "bucket": bucket,
                "key": artifact_key(job["owner"], model_id),
                "bytes": len(result.onnx_bytes),
                "sha256": hashlib.sha256(result.onnx_bytes).hexdigest(),
            },
            "created_at": datetime.now(UTC),
        }
    )
