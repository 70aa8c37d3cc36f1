"""Metrics for classification and regression, and the naive baselines.

Binary metrics treat the second class in sorted order as the positive one
("1" of 0/1, "Yes" of No/Yes, "True" of False/True); multiclass precision,
recall, F1 and ROC-AUC are macro averages (ROC-AUC one-vs-rest).
"""

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from narrative_training.pipeline.targets import CLASSIFICATION

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("r2", "rmse", "mae")
# The metric `auto` ranks candidates by, and the one reported as the score.
SELECTION_METRIC = {CLASSIFICATION: "roc_auc", "regression": "r2"}


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: list[str]
) -> dict[str, float]:
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    extra = {"pos_label": classes[1]} if binary else {}
    scores = {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(
            y_true, y_pred, average=average, zero_division=0, **extra
        ),
        "recall": recall_score(
            y_true, y_pred, average=average, zero_division=0, **extra
        ),
        "f1": f1_score(y_true, y_pred, average=average, zero_division=0, **extra),
        "roc_auc": _roc_auc(y_true, proba, classes),
    }
    return {name: float(value) for name, value in scores.items()}


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> float:
    present = set(np.unique(y_true))
    if len(present) < 2:
        return float("nan")
    if len(classes) == 2:
        return roc_auc_score(y_true == classes[1], proba[:, 1])
    if len(present) < len(classes):
        return float("nan")
    return roc_auc_score(
        y_true, proba, multi_class="ovr", average="macro", labels=classes
    )


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
    }


def baseline_metrics(
    problem_type: str,
    y_train: np.ndarray,
    y_test: np.ndarray,
    classes: list[str] | None = None,
) -> dict[str, float]:
    """Score the naive model on the test split: the majority class or the mean."""
    if problem_type == CLASSIFICATION:
        labels, counts = np.unique(y_train, return_counts=True)
        majority = labels[np.argmax(counts)]
        predicted = np.full(len(y_test), majority, dtype=object)
        shares = np.array([np.mean(y_train == c) for c in classes])
        proba = np.tile(shares, (len(y_test), 1))
        return classification_metrics(y_test, predicted, proba, classes)
    predicted = np.full(len(y_test), float(np.mean(y_train)))
    return regression_metrics(y_test, predicted)
