"""A trained model's metadata as the analyzers read it.

The training service owns the format. This module reads `metrics`,
`baseline_metrics`, `leaderboard`, `feature_importances`, `warnings`,
`problem_type`, `target`, `class_labels` and `model_type`. Importances may be
a list of `{feature, importance}` objects or a mapping. Every other field
(input schemas, artifact keys) is ignored, so nothing but metrics and names
reaches a prompt.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from narrative_analysis.analysis.facts import Facts, flatten_numbers, number

_LEADERBOARD_NAMES = ("model_type", "name", "model", "estimator")
# Per-class figures may sit under any of these keys, inside metrics or beside it.
_CLASS_DISTRIBUTION_KEYS = ("class_distribution", "class_counts", "target_distribution")


@dataclass
class ModelView:
    model_id: str
    name: str
    model_type: str
    problem_type: str
    target: str
    class_labels: list[str]
    metrics: dict[str, Any]
    baseline_metrics: dict[str, Any]
    leaderboard: list[dict[str, Any]]
    # (feature, importance), largest first.
    feature_importances: list[tuple[str, float]]
    warnings: list[dict[str, str]]
    class_distribution: dict[str, Any] = field(default_factory=dict)
    rows: float | None = None

    def facts(self) -> Facts:
        values: dict[str, float] = {}
        values |= flatten_numbers("metrics", self.metrics)
        values |= flatten_numbers("baseline_metrics", self.baseline_metrics)
        values |= flatten_numbers("leaderboard", self.leaderboard, _LEADERBOARD_NAMES)
        values |= flatten_numbers("class_distribution", self.class_distribution)
        for feature, importance in self.feature_importances:
            values[f"feature_importances[{feature}]"] = importance
        if self.rows is not None:
            values["rows"] = self.rows
        return Facts(values)

    def to_prompt(self) -> dict[str, Any]:
        """Return the metadata as sent to OpenAI: metrics and names only."""
        return {
            "model_type": self.model_type,
            "problem_type": self.problem_type,
            "target": self.target,
            "class_labels": self.class_labels,
            "rows": self.rows,
            "metrics": self.metrics,
            "baseline_metrics": self.baseline_metrics,
            "leaderboard": self.leaderboard,
            "feature_importances": [
                {"feature": name, "importance": round(value, 5)}
                for name, value in self.feature_importances[:30]
            ],
            "class_distribution": self.class_distribution,
            "warnings": self.warnings,
        }


def normalize_model(
    metadata: Mapping[str, Any], pii_columns: set[str] | frozenset[str] = frozenset()
) -> ModelView:
    """Read a model's metadata; features named after PII columns lose their value.

    A one-hot feature such as `email=ann@example.com` is reported as `email`,
    so a personal value that became a feature name is not sent out.
    """
    metrics = dict(metadata.get("metrics") or {})
    distribution: dict[str, Any] = {}
    for key in _CLASS_DISTRIBUTION_KEYS:
        source = metadata.get(key, metrics.pop(key, None))
        if isinstance(source, Mapping):
            distribution = dict(source)
            break
    rows = number(
        metadata.get("rows", metadata.get("training_rows", metadata.get("n_rows")))
    )
    return ModelView(
        model_id=str(metadata.get("id", metadata.get("model_id", ""))),
        name=str(metadata.get("name") or metadata.get("model_type") or "model"),
        model_type=str(metadata.get("model_type", metadata.get("algorithm", ""))),
        problem_type=str(metadata.get("problem_type", "")),
        target=str(metadata.get("target", metadata.get("target_column", ""))),
        class_labels=[str(label) for label in metadata.get("class_labels") or []],
        metrics=_numeric_tree(metrics),
        baseline_metrics=_numeric_tree(
            metadata.get("baseline_metrics", metadata.get("baseline")) or {}
        ),
        leaderboard=[
            _numeric_tree(entry)
            for entry in metadata.get("leaderboard") or []
            if isinstance(entry, Mapping)
        ],
        feature_importances=_importances(
            metadata.get("feature_importances"), pii_columns
        ),
        warnings=[_warning(item) for item in metadata.get("warnings") or []],
        class_distribution=_numeric_tree(distribution),
        rows=rows,
    )


def _numeric_tree(value: Any) -> Any:
    """Keep numbers, short strings and nested containers; drop anything else."""
    if isinstance(value, Mapping):
        kept = {str(k): _numeric_tree(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None}
    if isinstance(value, list):
        return [item for item in map(_numeric_tree, value) if item is not None]
    if number(value) is not None:
        return value
    if isinstance(value, str) and len(value) <= 80:
        return value
    return None


def _importances(value: Any, pii_columns: set[str] | frozenset[str]) -> list:
    pairs: list[tuple[str, float | None]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), number(v)) for k, v in value.items()]
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping):
            name = item.get("feature", item.get("name", item.get("column")))
            score = item.get("importance", item.get("value", item.get("score")))
            pairs.append((str(name), number(score)))
    merged: dict[str, float] = {}
    for name, score in pairs:
        if score is None:
            continue
        name = _without_pii_value(name, pii_columns)
        merged[name] = merged.get(name, 0.0) + score
    return sorted(merged.items(), key=lambda pair: -abs(pair[1]))


def _without_pii_value(feature: str, pii_columns: set[str] | frozenset[str]) -> str:
    for column in pii_columns:
        if feature == column or feature.startswith((f"{column}=", f"{column}_")):
            return column
    return feature


def _warning(item: Any) -> dict[str, str]:
    if isinstance(item, Mapping):
        return {
            "kind": str(item.get("kind", item.get("code", "warning"))),
            "column": str(item.get("column", "")),
            "message": str(item.get("message", ""))[:500],
        }
    return {"kind": "warning", "column": "", "message": str(item)[:500]}
