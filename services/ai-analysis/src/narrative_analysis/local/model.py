"""Local analysis of a trained model: drivers, metric against baseline, weak spots."""

import re

from narrative_analysis.analysis.facts import Facts, key_segment
from narrative_analysis.analysis.model_info import ModelView
from narrative_analysis.analysis.schemas import Finding, ModelInsights, PredictionDriver
from narrative_analysis.local.text import cite, num

# The first of these metrics a model reports is the one its quality is read by.
_PRIMARY = {
    "classification": ("roc_auc", "f1", "f1_macro", "balanced_accuracy", "accuracy"),
    "regression": ("r2", "rmse", "mae"),
}
_LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss", "mape"})
LOW_RECALL = 0.6
SMALL_LIFT = 0.02
DOMINANT_IMPORTANCE = 0.5
OVERFIT_GAP = 0.1
WEAK_R2 = 0.5
TOP_DRIVERS = 5


def analyze_model(model: ModelView) -> ModelInsights:
    """Build a model analysis from its metadata alone, deterministically."""
    facts = model.facts()
    findings: list[Finding] = []
    weaknesses: list[Finding] = []
    primary = _primary_metric(model)
    if primary is not None:
        finding = _baseline_finding(model, primary)
        (findings if finding.severity == "info" else weaknesses).append(finding)
    findings += _leaderboard_findings(model, primary)
    weaknesses += _recall_weaknesses(model, facts)
    weaknesses += _overfit_weaknesses(model)
    if model.problem_type == "regression" and "r2" in model.metrics:
        r2 = model.metrics["r2"]
        if isinstance(r2, int | float) and r2 < WEAK_R2:
            weaknesses.append(
                Finding(
                    title="Much of the variation is unexplained",
                    detail=f"R² is {num(r2)}: the features miss much of what moves "
                    f"{model.target}.",
                    severity="warning",
                    columns=[model.target],
                    evidence=[cite(r2, "metrics.r2")],
                )
            )
    dominant = _dominant_feature(model)
    if dominant is not None:
        weaknesses.append(dominant)
    risks = [_warning_finding(w) for w in model.warnings]
    return ModelInsights(
        summary=_summary(model, primary),
        key_findings=findings,
        prediction_drivers=[
            _driver(name, value, rank)
            for rank, (name, value) in enumerate(
                model.feature_importances[:TOP_DRIVERS]
            )
        ],
        weaknesses=weaknesses,
        data_quality_risks=risks,
        next_steps=_next_steps(model, weaknesses, risks),
    )


def _primary_metric(model: ModelView) -> str | None:
    candidates = _PRIMARY.get(model.problem_type, ()) + tuple(model.metrics)
    for name in candidates:
        if isinstance(model.metrics.get(name), int | float):
            return name
    return None


def _baseline_finding(model: ModelView, metric: str) -> Finding:
    value = model.metrics[metric]
    evidence = [cite(value, f"metrics{key_segment(metric)}")]
    baseline = model.baseline_metrics.get(metric)
    if not isinstance(baseline, int | float):
        return Finding(
            title=f"{metric} is {num(value)}",
            detail=f"The model scores {num(value)} on {metric}; no baseline was "
            "reported to compare it with.",
            severity="info",
            columns=[],
            evidence=evidence,
        )
    evidence.append(cite(baseline, f"baseline_metrics{key_segment(metric)}"))
    lift = baseline - value if metric in _LOWER_IS_BETTER else value - baseline
    if lift <= SMALL_LIFT:
        return Finding(
            title="Barely better than the baseline",
            detail=(
                f"{metric} is {num(value)} against {num(baseline)} for the baseline "
                "that ignores the features: the features add little."
            ),
            severity="critical" if lift <= 0 else "warning",
            columns=[],
            evidence=evidence,
        )
    return Finding(
        title=f"{metric} {num(value)}, above the baseline",
        detail=(
            f"The model reaches {metric} {num(value)} where the baseline that "
            f"ignores the features reaches {num(baseline)}."
        ),
        severity="info",
        columns=[],
        evidence=evidence,
    )


def _leaderboard_findings(model: ModelView, metric: str | None) -> list[Finding]:
    if metric is None or len(model.leaderboard) < 2:
        return []
    scored = []
    for entry in model.leaderboard:
        name = entry.get("model_type") or entry.get("name") or entry.get("model")
        score = entry.get(metric, (entry.get("metrics") or {}).get(metric))
        if name is not None and isinstance(score, int | float):
            nested = metric not in entry
            path = f"leaderboard[{name}]" + (".metrics" if nested else "")
            scored.append((str(name), score, path + key_segment(metric)))
    if len(scored) < 2:
        return []
    scored.sort(key=lambda item: item[1], reverse=metric not in _LOWER_IS_BETTER)
    ranking = "; ".join(f"{name} {num(score)}" for name, score, _ in scored[:4])
    return [
        Finding(
            title=f"{scored[0][0]} led the comparison",
            detail=f"Candidates by {metric}: {ranking}.",
            severity="info",
            columns=[],
            evidence=[cite(score, path) for _, score, path in scored[:4]],
        )
    ]


def _recall_weaknesses(model: ModelView, facts: Facts) -> list[Finding]:
    if model.problem_type != "classification":
        return []
    weaknesses = []
    for path, value in facts.values.items():
        if not path.startswith("metrics") or "recall" not in path.lower():
            continue
        label = _class_in_path(path, model.class_labels)
        if label is None or value >= LOW_RECALL:
            continue
        weaknesses.append(
            Finding(
                title=f"Misses many {model.target} = {label} cases",
                detail=(
                    f"Recall on {label} is {num(value)}: the model finds fewer than "
                    "two in three of them. Try class weights or a lower decision "
                    "threshold."
                ),
                severity="warning",
                columns=[model.target],
                evidence=[cite(value, path)],
            )
        )
    if not weaknesses and isinstance(model.metrics.get("recall"), int | float):
        recall = model.metrics["recall"]
        if recall < LOW_RECALL:
            positive = model.class_labels[-1] if model.class_labels else "positive"
            weaknesses.append(
                Finding(
                    title=f"Misses many {model.target} = {positive} cases",
                    detail=(
                        f"Recall is {num(recall)}: the model finds fewer than two "
                        "in three positive cases. Try class weights or a lower "
                        "decision threshold."
                    ),
                    severity="warning",
                    columns=[model.target],
                    evidence=[cite(recall, "metrics.recall")],
                )
            )
    return weaknesses[:3]


def _class_in_path(path: str, labels: list[str]) -> str | None:
    parts = re.split(r"[\[\].]+", path)
    for label in labels:
        if label in parts or f"recall_{label}" in parts:
            return label
    return None


def _overfit_weaknesses(model: ModelView) -> list[Finding]:
    weaknesses = []
    for key, train in model.metrics.items():
        if not key.startswith("train_") or not isinstance(train, int | float):
            continue
        metric = key.removeprefix("train_")
        test = model.metrics.get(metric)
        if not isinstance(test, int | float) or metric in _LOWER_IS_BETTER:
            continue
        if train - test < OVERFIT_GAP:
            continue
        weaknesses.append(
            Finding(
                title="Scores much better on its training data",
                detail=(
                    f"{metric} is {num(train)} on the training rows but {num(test)} "
                    "on held-out rows: the model memorises part of the data."
                ),
                severity="warning",
                columns=[],
                evidence=[
                    cite(train, f"metrics{key_segment(key)}"),
                    cite(test, f"metrics{key_segment(metric)}"),
                ],
            )
        )
    return weaknesses


def _dominant_feature(model: ModelView) -> Finding | None:
    if not model.feature_importances:
        return None
    total = sum(abs(value) for _, value in model.feature_importances)
    name, value = model.feature_importances[0]
    # Only normalised importances (summing to 1) can be read as a share.
    if abs(total - 1) > 0.05 or value < DOMINANT_IMPORTANCE:
        return None
    return Finding(
        title=f"{name} dominates the predictions",
        detail=(
            f"{name} carries an importance of {num(value)} on its own. Check that it "
            "is known before the outcome; otherwise it leaks the answer."
        ),
        severity="warning",
        columns=[name],
        evidence=[cite(value, f"feature_importances[{name}]")],
    )


def _driver(name: str, value: float, rank: int) -> PredictionDriver:
    position = "The strongest driver" if rank == 0 else "A leading driver"
    return PredictionDriver(
        feature=name,
        explanation=f"{position}, with an importance of {num(value)}.",
        evidence=[cite(value, f"feature_importances[{name}]")],
    )


def _warning_finding(warning: dict[str, str]) -> Finding:
    kind, column, message = warning["kind"], warning["column"], warning["message"]
    # A training message may contain numbers this service cannot trace to a
    # field, so such a message is summarised instead of quoted.
    if not message or re.search(r"\d", message):
        message = f"Training reported a {kind} warning" + (
            f" on {column}." if column else "."
        )
    leakage = "leak" in kind.lower() or "leak" in message.lower()
    return Finding(
        title=f"Training warning: {kind}",
        detail=message,
        severity="critical" if leakage else "warning",
        columns=[column] if column else [],
        evidence=[],
    )


def _summary(model: ModelView, metric: str | None) -> str:
    subject = f"A {model.model_type or 'model'} {model.problem_type} model"
    text = f"{subject} predicting {model.target}."
    if metric is not None:
        text += f" It reaches {metric} {num(model.metrics[metric])}."
    if model.feature_importances:
        text += f" {model.feature_importances[0][0]} drives its predictions most."
    return text


def _next_steps(
    model: ModelView, weaknesses: list[Finding], risks: list[Finding]
) -> list[str]:
    steps = []
    if any(r.severity == "critical" for r in risks + weaknesses):
        steps.append(
            "Resolve the critical warnings first: a leaking feature makes every "
            "metric optimistic."
        )
    if any(w.title.startswith("Misses many") for w in weaknesses):
        steps.append(
            "Retrain with class weights, or pick a decision threshold that trades "
            "precision for recall on the rare class."
        )
    if any(w.title == "Barely better than the baseline" for w in weaknesses):
        steps.append("Add features that carry more signal, or check the target.")
    if model.feature_importances:
        steps.append(
            f"Check with a domain expert that {model.feature_importances[0][0]} "
            "plausibly drives the outcome."
        )
    steps.append("Try predictions on a few known cases before using the model.")
    return steps
