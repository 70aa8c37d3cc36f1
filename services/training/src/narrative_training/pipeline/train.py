"""One training run: split, guard, cross-validate, fit and evaluate.

The model that is exported is the one fitted on the 80% training split, so
the held-out test metrics describe exactly that model.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from narrative_training.pipeline import estimators
from narrative_training.pipeline.columns import (
    FeaturePlan,
    identifier_warning,
    model_inputs,
    select_features,
)
from narrative_training.pipeline.errors import TrainingInputError
from narrative_training.pipeline.evaluate import (
    SELECTION_METRIC,
    baseline_metrics,
    classification_metrics,
    regression_metrics,
)
from narrative_training.pipeline.guards import leakage_warnings, single_feature_scores
from narrative_training.pipeline.targets import (
    CLASSIFICATION,
    CV_FOLDS,
    TEST_SIZE,
    detect_problem_type,
    prepare_target,
)

# progress(stage, fraction) reports a stage name and the fraction done (0-1);
# it raises TrainingCancelled to stop the run between steps.
Progress = Callable[[str, float], None]
PERMUTATION_MAX_ROWS = 1000


@dataclass
class TrainingRequest:
    target: str
    column_types: dict[str, str]
    model_type: str = estimators.AUTO
    problem_type: str = "auto"
    include_columns: list[str] = field(default_factory=list)


@dataclass
class TrainingOutcome:
    pipeline: Pipeline
    plan: FeaturePlan
    problem_type: str
    model_type: str
    classes: list[str] | None
    metrics: dict[str, dict[str, float]]
    baseline_metrics: dict[str, float]
    leaderboard: list[dict]
    feature_importances: list[dict]
    warnings: list[dict]
    x_test: pd.DataFrame
    rows: dict[str, int]
    # Time spent in scikit-learn itself: cross-validation, the final fit and
    # test predictions; everything else in a job is overhead.
    sklearn_seconds: float


def resolve_problem_type(frame: pd.DataFrame, request: TrainingRequest) -> str:
    if request.problem_type != "auto":
        return request.problem_type
    column_type = request.column_types.get(request.target, "numeric")
    return detect_problem_type(frame[request.target], column_type)


def train(
    frame: pd.DataFrame,
    request: TrainingRequest,
    progress: Progress,
    n_jobs: int = 2,
) -> TrainingOutcome:
    """Train the requested model type, or pick the best of several for `auto`."""
    progress("preparing", 0.05)
    if request.target not in frame.columns:
        raise TrainingInputError(
            f"Target '{request.target}' is not a column of the dataset."
        )
    problem_type = resolve_problem_type(frame, request)
    if not estimators.fits_problem(request.model_type, problem_type):
        raise TrainingInputError(
            f"Model type '{request.model_type}' does not fit a {problem_type} "
            f"problem. Choose one of: auto, "
            f"{', '.join(estimators.MODEL_TYPES[problem_type])}."
        )
    y = prepare_target(frame[request.target], request.target, problem_type)
    plan = select_features(
        frame, request.column_types, request.target, request.include_columns
    )
    _warn_on_kept_identifiers(frame, plan, request)
    inputs = model_inputs(frame, plan.features)
    stratify = y if problem_type == CLASSIFICATION else None
    x_train, x_test, y_train, y_test = train_test_split(
        inputs, y, test_size=TEST_SIZE, random_state=estimators.RANDOM_STATE,
        stratify=stratify,
    )  # fmt: skip

    progress("checking_leakage", 0.1)
    plan = _apply_leakage_guard(x_train, y_train, plan, problem_type, request)
    columns = [f.input_name for f in plan.features]
    x_train, x_test = x_train[columns], x_test[columns]

    candidates = (
        estimators.AUTO_CANDIDATES[problem_type]
        if request.model_type == estimators.AUTO
        else (request.model_type,)
    )
    started = time.perf_counter()
    leaderboard = _cross_validate(
        candidates, plan, problem_type, x_train, y_train, progress, n_jobs
    )
    chosen = leaderboard[0]["model_type"]

    progress("fitting", 0.75)
    pipeline = estimators.build_pipeline(plan, chosen, problem_type, n_jobs)
    pipeline.fit(x_train, y_train)
    progress("evaluating", 0.82)
    classes = (
        [str(c) for c in pipeline.classes_] if problem_type == CLASSIFICATION else None
    )
    test_scores = _score(pipeline, x_test, y_test.to_numpy(), classes)
    sklearn_seconds = time.perf_counter() - started

    cv_row = leaderboard[0]
    metrics = {
        name: {
            "cv_mean": cv_row["cv"][name]["mean"],
            "cv_std": cv_row["cv"][name]["std"],
            "test": value,
        }
        for name, value in test_scores.items()
    }
    baseline = baseline_metrics(
        problem_type, y_train.to_numpy(), y_test.to_numpy(), classes
    )
    importances = feature_importances(pipeline, plan, chosen, x_test, y_test)
    return TrainingOutcome(
        pipeline=pipeline,
        plan=plan,
        problem_type=problem_type,
        model_type=chosen,
        classes=classes,
        metrics=metrics,
        baseline_metrics=baseline,
        leaderboard=leaderboard,
        feature_importances=importances,
        warnings=plan.warnings,
        x_test=x_test,
        rows={"total": len(frame), "train": len(x_train), "test": len(x_test)},
        sklearn_seconds=sklearn_seconds,
    )


def _warn_on_kept_identifiers(frame, plan: FeaturePlan, request) -> None:
    from narrative_training.pipeline.columns import looks_like_identifier

    for feature in plan.features:
        if feature.name not in request.include_columns:
            continue
        typed_id = request.column_types.get(feature.name) == "identifier"
        if typed_id or looks_like_identifier(feature.name, frame[feature.name]):
            plan.warnings.append(identifier_warning(feature.name, kept=True))


def _apply_leakage_guard(x_train, y_train, plan, problem_type, request) -> FeaturePlan:
    scores = single_feature_scores(x_train, y_train, plan, problem_type)
    flagged = leakage_warnings(scores, problem_type)
    leaking = set()
    for warning in flagged:
        if warning["column"] in request.include_columns:
            warning["message"] = warning["message"].replace(
                "It was left out; list it in include_columns to keep it.",
                "It was kept because include_columns lists it.",
            )
        else:
            leaking.add(warning["column"])
            plan.excluded.append({"name": warning["column"], "reason": "leakage"})
    plan.warnings.extend(flagged)
    kept = [f for f in plan.features if f.name not in leaking]
    if not kept:
        raise TrainingInputError(
            "Every feature was left out as leaking the target. Check the "
            "dataset, or list the columns to keep in include_columns."
        )
    plan.features = kept
    return plan


def _cross_validate(candidates, plan, problem_type, x, y, progress, n_jobs):
    """Score each candidate by 5-fold CV and return them best first."""
    classification = problem_type == CLASSIFICATION
    splitter = (
        StratifiedKFold(CV_FOLDS, shuffle=True, random_state=estimators.RANDOM_STATE)
        if classification
        else KFold(CV_FOLDS, shuffle=True, random_state=estimators.RANDOM_STATE)
    )
    folds = list(splitter.split(x, y))
    selection = SELECTION_METRIC[problem_type]
    total_steps = len(candidates) * len(folds)
    leaderboard = []
    step = 0
    for model_type in candidates:
        template = estimators.build_pipeline(plan, model_type, problem_type, n_jobs)
        fold_scores: list[dict[str, float]] = []
        started = time.perf_counter()
        for train_index, test_index in folds:
            progress("cross_validating", 0.15 + 0.6 * step / total_steps)
            step += 1
            model = clone(template)
            model.fit(x.iloc[train_index], y.iloc[train_index])
            classes = [str(c) for c in model.classes_] if classification else None
            fold_scores.append(
                _score(
                    model, x.iloc[test_index], y.iloc[test_index].to_numpy(), classes
                )
            )
        summary = {
            name: {
                "mean": float(np.nanmean([s[name] for s in fold_scores])),
                "std": float(np.nanstd([s[name] for s in fold_scores])),
            }
            for name in fold_scores[0]
        }
        leaderboard.append(
            {
                "model_type": model_type,
                "metric": selection,
                "score": summary[selection]["mean"],
                "cv": summary,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    leaderboard.sort(key=lambda row: -_finite(row["score"]))
    return leaderboard


def _finite(value: float) -> float:
    return value if np.isfinite(value) else -np.inf


def _score(model, x, y_true, classes) -> dict[str, float]:
    if classes is None:
        return regression_metrics(y_true, model.predict(x))
    proba = model.predict_proba(x)
    predicted = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
    return classification_metrics(y_true, predicted, proba, classes)


def feature_importances(pipeline, plan, model_type, x_test, y_test) -> list[dict]:
    """Importance per dataset column, summed over its one-hot columns.

    Trees report impurity decrease, linear models the mean |coefficient| on
    the scaled inputs, and neural networks permutation importance on up to
    1,000 test rows.
    """
    model = pipeline.named_steps["model"]
    if model_type == estimators.NEURAL_NETWORK:
        sample = x_test.iloc[:PERMUTATION_MAX_ROWS]
        result = permutation_importance(
            pipeline, sample, y_test.loc[sample.index], n_repeats=3, random_state=0
        )
        values = dict(zip(x_test.columns, result.importances_mean, strict=True))
        method = "permutation"
    else:
        if hasattr(model, "feature_importances_"):
            raw = np.asarray(model.feature_importances_)
            method = "impurity"
        else:
            raw = np.abs(np.atleast_2d(model.coef_)).mean(axis=0)
            method = "coefficient"
        names = pipeline.named_steps["prepare"].get_feature_names_out()
        values = {}
        for feature in plan.features:
            prefix_num = f"numeric__{feature.input_name}"
            prefix_cat = f"categorical__{feature.input_name}_"
            mask = [n == prefix_num or n.startswith(prefix_cat) for n in names]
            values[feature.input_name] = float(raw[np.asarray(mask)].sum())
    total = sum(max(v, 0.0) for v in values.values()) or 1.0
    by_input = {f.input_name: f.name for f in plan.features}
    ranked = [
        {
            "name": by_input[name],
            "importance": round(max(value, 0.0) / total, 6),
            "method": method,
        }
        for name, value in values.items()
    ]
    ranked.sort(key=lambda item: -item["importance"])
    return ranked
