"""Export a fitted pipeline to ONNX and check it against scikit-learn.

Each column is its own ONNX input with an explicit type: FloatTensorType
[None, 1] for numeric columns (doubles convert but do not load in
onnxruntime, which has no double Imputer kernel) and StringTensorType
[None, 1] for categorical and boolean columns. Classifiers are exported with
zipmap=False so probabilities come out as one float tensor.
"""

import numpy as np
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from narrative_training.pipeline.columns import NUMERIC, Feature
from narrative_training.pipeline.errors import ParityError

# Opset 17 is supported by onnxruntime 1.14 and later, so any recent
# inference service loads the model.
TARGET_OPSET = 17
# A classifier fails the check when any probability differs by more than this,
# or when a predicted label differs on a row whose top two classes are further
# apart than twice this (closer rows are ties that float32 may break either way).
MAX_PROBABILITY_DIFF = 1e-4
# A regressor fails when a prediction differs by more than this share of
# max(1, |scikit-learn prediction|): float32 carries about 7 significant digits.
MAX_RELATIVE_DIFF = 1e-4
PARITY_MAX_ROWS = 2000


def to_onnx(pipeline: Pipeline, features: list[Feature], name: str) -> bytes:
    initial_types = [
        (
            f.input_name,
            FloatTensorType([None, 1])
            if f.kind == NUMERIC
            else StringTensorType([None, 1]),
        )
        for f in features
    ]
    options = None
    if hasattr(pipeline, "predict_proba"):
        options = {id(pipeline.named_steps["model"]): {"zipmap": False}}
    model = convert_sklearn(
        pipeline,
        name=name,
        initial_types=initial_types,
        options=options,
        target_opset={"": TARGET_OPSET, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


def onnx_feeds(x: pd.DataFrame, features: list[Feature]) -> dict[str, np.ndarray]:
    feeds = {}
    for f in features:
        column = x[f.input_name].to_numpy()
        if f.kind == NUMERIC:
            feeds[f.input_name] = column.astype(np.float32).reshape(-1, 1)
        else:
            feeds[f.input_name] = column.astype(object).reshape(-1, 1)
    return feeds


def check_parity(
    onnx_bytes: bytes,
    pipeline: Pipeline,
    x: pd.DataFrame,
    features: list[Feature],
    classification: bool,
) -> dict:
    """Compare ONNX and scikit-learn on held-out rows; raise ParityError on a gap."""
    x = x.iloc[:PARITY_MAX_ROWS]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        onnx_bytes, options, providers=["CPUExecutionProvider"]
    )
    outputs = session.run(None, onnx_feeds(x, features))
    if classification:
        return _classifier_parity(pipeline, x, outputs)
    return _regressor_parity(pipeline, x, outputs)


def _classifier_parity(pipeline, x, outputs) -> dict:
    labels, proba = outputs[0].ravel(), outputs[1]
    expected = pipeline.predict_proba(x)
    expected_labels = np.asarray(pipeline.classes_)[np.argmax(expected, axis=1)]
    max_diff = float(np.max(np.abs(proba - expected))) if len(x) else 0.0
    top_two = np.sort(expected, axis=1)[:, -2:]
    decisive = (top_two[:, 1] - top_two[:, 0]) > 2 * MAX_PROBABILITY_DIFF
    mismatches = int(
        np.sum((labels.astype(str) != expected_labels.astype(str)) & decisive)
    )
    report = {
        "rows": len(x),
        "max_abs_probability_diff": max_diff,
        "label_mismatches": mismatches,
        "tolerance": MAX_PROBABILITY_DIFF,
        "passed": max_diff <= MAX_PROBABILITY_DIFF and mismatches == 0,
    }
    if not report["passed"]:
        raise ParityError(
            f"The exported ONNX model disagrees with scikit-learn on held-out "
            f"rows (max probability difference {max_diff:.2e}, {mismatches} "
            f"label mismatches; tolerance {MAX_PROBABILITY_DIFF:g}). Try "
            "another model type."
        )
    return report


def _regressor_parity(pipeline, x, outputs) -> dict:
    predicted = outputs[0].ravel().astype(np.float64)
    expected = pipeline.predict(x).astype(np.float64)
    diff = np.abs(predicted - expected)
    relative = diff / np.maximum(1.0, np.abs(expected))
    max_relative = float(relative.max()) if len(x) else 0.0
    report = {
        "rows": len(x),
        "max_abs_prediction_diff": float(diff.max()) if len(x) else 0.0,
        "max_relative_prediction_diff": max_relative,
        "tolerance": MAX_RELATIVE_DIFF,
        "passed": max_relative <= MAX_RELATIVE_DIFF,
    }
    if not report["passed"]:
        raise ParityError(
            f"The exported ONNX model disagrees with scikit-learn on held-out "
            f"rows (max relative difference {max_relative:.2e}; tolerance "
            f"{MAX_RELATIVE_DIFF:g}). Try another model type."
        )
    return report
