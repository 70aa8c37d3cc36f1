"""Leakage guard: flag a feature that alone predicts the target almost perfectly.

Such a column is usually recorded after the outcome (a cancellation date for
churn, a copy of the target under another name), so a model that uses it
scores well in testing and fails on new rows.
"""

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from narrative_training.pipeline.columns import NUMERIC, FeaturePlan
from narrative_training.pipeline.targets import CLASSIFICATION

# Single-feature cross-validated ROC-AUC (classification) or |Pearson r|
# between the out-of-fold prediction and the target (regression) above which
# a column is flagged as leaking the target.
LEAKAGE_THRESHOLD = 0.98
GUARD_FOLDS = 3
# The guard scores at most this many rows: enough to estimate a near-perfect
# score, and it keeps the guard's cost small next to the model fit.
GUARD_MAX_ROWS = 20_000


def single_feature_scores(
    inputs: pd.DataFrame, y: pd.Series, plan: FeaturePlan, problem_type: str
) -> list[dict]:
    """Score each feature alone by 3-fold out-of-fold predictions."""
    if len(inputs) > GUARD_MAX_ROWS:
        inputs = inputs.sample(GUARD_MAX_ROWS, random_state=0)
        y = y.loc[inputs.index]
    classification = problem_type == CLASSIFICATION
    target = y.to_numpy()
    if classification:
        classes = sorted(set(target))
        onehot = np.column_stack([target == c for c in classes]).astype(float)
        splitter = StratifiedKFold(GUARD_FOLDS, shuffle=True, random_state=0)
    else:
        classes = []
        onehot = target.astype(float).reshape(-1, 1)
        splitter = KFold(GUARD_FOLDS, shuffle=True, random_state=0)
    folds = list(splitter.split(inputs, target))
    scores = []
    for feature in plan.features:
        column = inputs[feature.input_name]
        if feature.kind == NUMERIC:
            predicted = _tree_scores(column, target, classification, folds)
        else:
            predicted = _target_encoding(column.to_numpy(), onehot, folds)
        score = _score(predicted, target, classes, classification)
        if not classification and feature.kind == NUMERIC:
            score = max(score, _abs_corr(column.to_numpy(dtype=float), target))
        scores.append({"name": feature.name, "score": score})
    return scores


def leakage_warnings(scores: list[dict], problem_type: str) -> list[dict]:
    metric = "ROC-AUC" if problem_type == CLASSIFICATION else "|r|"
    warnings = []
    for item in scores:
        if item["score"] > LEAKAGE_THRESHOLD:
            warnings.append(
                {
                    "kind": "leakage",
                    "column": item["name"],
                    "score": round(item["score"], 4),
                    "message": (
                        f"Column '{item['name']}' alone predicts the target "
                        f"almost perfectly ({metric} {item['score']:.3f} > "
                        f"{LEAKAGE_THRESHOLD}), which usually means it is "
                        "recorded after the outcome. It was left out; list it "
                        "in include_columns to keep it."
                    ),
                }
            )
    return warnings


def _tree_scores(column, target, classification, folds) -> np.ndarray:
    values = column.to_numpy(dtype=float).reshape(-1, 1)
    if classification:
        tree = DecisionTreeClassifier(max_depth=4, min_samples_leaf=5, random_state=0)
        return cross_val_predict(tree, values, target, cv=folds, method="predict_proba")
    tree = DecisionTreeRegressor(max_depth=4, min_samples_leaf=5, random_state=0)
    return cross_val_predict(tree, values, target, cv=folds).reshape(-1, 1)


def _target_encoding(values: np.ndarray, onehot: np.ndarray, folds) -> np.ndarray:
    """Predict each row by its category's mean target on the other folds."""
    predicted = np.zeros_like(onehot)
    for train, test in folds:
        frame = pd.DataFrame(onehot[train])
        frame["category"] = values[train]
        means = frame.groupby("category").mean()
        prior = onehot[train].mean(axis=0)
        looked_up = means.reindex(values[test]).to_numpy()
        predicted[test] = np.where(np.isnan(looked_up), prior, looked_up)
    return predicted


def _score(predicted, target, classes, classification) -> float:
    from sklearn.metrics import roc_auc_score

    if not classification:
        return _abs_corr(predicted[:, 0], target.astype(float))
    if len(classes) == 2:
        return float(roc_auc_score(target == classes[1], predicted[:, 1]))
    return float(
        roc_auc_score(
            target, predicted, multi_class="ovr", average="macro", labels=classes
        )
    )


def _abs_corr(x: np.ndarray, y: np.ndarray) -> float:
    mask = ~np.isnan(x)
    if mask.sum() < 3 or np.std(x[mask]) == 0 or np.std(y[mask]) == 0:
        return 0.0
    return float(abs(np.corrcoef(x[mask], y[mask].astype(float))[0, 1]))
