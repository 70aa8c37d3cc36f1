"""The dataset profile as the analyzers read it: normalized, facts extracted,
personal data removed.

The datasets service owns the profile's format. This module reads per-column
`name`, `type`, `count`, `missing`, `distinct`, `min`, `max`, `mean`, `std`,
quantiles and `top_values`, plus `rows`, `correlations`, `quality_score` and
`pii_columns`. It accepts the common spellings of each, so a renamed quantile
key or a matrix instead of a pair list does not break the analysis.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from narrative_analysis.analysis.facts import Facts, number

COLUMN_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "identifier")
# Types whose values name or describe a single row, so their values are never
# sent out even when the profile does not list them as personal data.
_ROW_LEVEL_TYPES = frozenset({"text", "identifier"})


@dataclass
class ColumnView:
    name: str
    type: str
    count: float | None = None
    missing: float | None = None
    distinct: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)
    # (value, count), most frequent first.
    top_values: list[tuple[str, float]] = field(default_factory=list)
    pii: bool = False

    @property
    def median(self) -> float | None:
        return self.quantiles.get("p50")


@dataclass
class ProfileView:
    """A dataset's profile with personal-data values already removed."""

    name: str
    rows: int
    columns: list[ColumnView]
    correlations: list[tuple[str, str, float]]
    quality_score: float | None
    quality_reasons: list[str]
    pii_columns: list[str]

    def column(self, name: str) -> ColumnView | None:
        return next((c for c in self.columns if c.name == name), None)

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for column in self.columns:
            counts[column.type] = counts.get(column.type, 0) + 1
        return dict(sorted(counts.items()))

    def facts(self) -> Facts:
        values: dict[str, float] = {
            "rows": float(self.rows),
            "column_count": float(len(self.columns)),
        }
        if self.quality_score is not None:
            values["quality_score"] = self.quality_score
        for kind, count in self.type_counts().items():
            values[f"column_types[{kind}]"] = float(count)
        for column in self.columns:
            values |= _column_facts(column, self.rows)
        for left, right, r in self.correlations:
            values[f"correlations[{left},{right}]"] = r
        return Facts(values)

    def to_prompt(self) -> dict[str, Any]:
        """Return the profile as sent to OpenAI: statistics only, no rows."""
        return {
            "dataset": self.name,
            "rows": self.rows,
            "column_count": len(self.columns),
            "quality_score": self.quality_score,
            "quality_reasons": self.quality_reasons,
            "pii_columns": self.pii_columns,
            "columns": [_column_prompt(column, self.rows) for column in self.columns],
            "correlations": [
                {"columns": [left, right], "r": round(r, 4)}
                for left, right, r in self.correlations
            ],
        }


def _column_facts(column: ColumnView, rows: int) -> dict[str, float]:
    prefix = f"columns[{column.name}]"
    values: dict[str, float] = {}
    for key in ("count", "missing", "distinct", "min", "max", "mean", "std"):
        value = getattr(column, key)
        if value is not None:
            values[f"{prefix}.{key}"] = value
    if rows > 0 and column.missing is not None:
        values[f"{prefix}.missing_share"] = column.missing / rows
    if rows > 0 and column.distinct is not None:
        values[f"{prefix}.distinct_share"] = column.distinct / rows
    for key, value in column.quantiles.items():
        values[f"{prefix}.quantiles[{key}]"] = value
    for value, count in column.top_values:
        values[f"{prefix}.top_values[{value}].count"] = count
        if rows > 0:
            values[f"{prefix}.top_values[{value}].share"] = count / rows
    return values


def _column_prompt(column: ColumnView, rows: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": column.name, "type": column.type}
    for key in ("count", "missing", "distinct", "min", "max", "mean", "std"):
        value = getattr(column, key)
        if value is not None:
            entry[key] = _rounded(value)
    if rows > 0 and column.missing is not None:
        entry["missing_share"] = round(column.missing / rows, 4)
    if column.quantiles:
        entry["quantiles"] = {k: _rounded(v) for k, v in column.quantiles.items()}
    if column.top_values:
        entry["top_values"] = [
            {"value": value, "count": count, "share": round(count / rows, 4)}
            for value, count in column.top_values
        ]
    if column.pii:
        entry["pii"] = True
    return entry


def _rounded(value: float) -> float:
    return round(value, 4) if abs(value) < 1000 else round(value, 1)


def normalize_profile(
    profile: Mapping[str, Any], dataset: Mapping[str, Any] | None = None
) -> ProfileView:
    """Read a profile document and remove the values of personal-data columns.

    PII columns and row-level columns (text, identifier) keep their name, type
    and counts. Their top values, minimum, maximum, quantiles and mean are
    dropped here, before any analyzer reads the profile.
    """
    dataset = dataset or {}
    pii_names = _pii_names(profile.get("pii_columns") or dataset.get("pii_columns"))
    columns = [_column(entry) for entry in _column_entries(profile.get("columns"))]
    rows = number(profile.get("rows", profile.get("row_count")))
    if rows is None:
        rows = number(dataset.get("rows", dataset.get("row_count")))
    if rows is None:
        rows = max((c.count or 0) + (c.missing or 0) for c in columns) if columns else 0
    for column in columns:
        if column.name in pii_names or column.type in _ROW_LEVEL_TYPES:
            _strip_values(column, pii=column.name in pii_names)
    score, reasons = _quality(profile.get("quality_score"), profile)
    return ProfileView(
        name=str(dataset.get("name") or dataset.get("filename") or "dataset"),
        rows=int(rows),
        columns=columns,
        correlations=_correlations(profile.get("correlations")),
        quality_score=score,
        quality_reasons=reasons,
        pii_columns=sorted(pii_names),
    )


def _strip_values(column: ColumnView, *, pii: bool) -> None:
    column.top_values = []
    column.quantiles = {}
    column.min = column.max = None
    column.mean = column.std = None
    column.pii = pii


def _pii_names(value: Any) -> set[str]:
    names: set[str] = set()
    for item in value or []:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, Mapping):
            name = item.get("name", item.get("column"))
            if name is not None:
                names.add(str(name))
    if isinstance(value, Mapping):
        names |= {str(key) for key in value}
    return names


def _column_entries(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [{"name": name, **stats} for name, stats in value.items()]
    return [entry for entry in value or [] if isinstance(entry, Mapping)]


def _column(entry: Mapping[str, Any]) -> ColumnView:
    column_type = str(entry.get("kind") or entry.get("type") or "categorical")
    column = ColumnView(name=str(entry.get("name")), type=column_type)
    for key in ("count", "missing", "distinct", "mean", "std"):
        setattr(column, key, number(entry.get(key)))
    if column.missing is None:
        column.missing = number(entry.get("missing_count", entry.get("null_count")))
    if column.distinct is None:
        column.distinct = number(entry.get("distinct_count", entry.get("unique")))
    column.min = number(entry.get("min"))
    column.max = number(entry.get("max"))
    column.quantiles = _quantiles(entry)
    column.top_values = _top_values(entry.get("top_values"))
    return column


def _quantile_key(key: Any) -> str | None:
    text = str(key).strip().lower().rstrip("%").lstrip("pq")
    if text == "median":
        return "p50"
    try:
        level = float(text)
    except ValueError:
        return None
    if 0 < level < 1 or (level in (0.0, 1.0) and "." in text):
        level *= 100
    return f"p{level:g}"


def _quantiles(entry: Mapping[str, Any]) -> dict[str, float]:
    raw = entry.get("quantiles", entry.get("percentiles"))
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping):
                level = item.get("q", item.get("quantile", item.get("level")))
                pairs.append((level, item.get("value")))
    if entry.get("median") is not None:
        pairs.append(("median", entry.get("median")))
    quantiles: dict[str, float] = {}
    for key, value in pairs:
        name, parsed = _quantile_key(key), number(value)
        if name is not None and parsed is not None:
            quantiles[name] = parsed
    return quantiles


def _top_values(value: Any) -> list[tuple[str, float]]:
    pairs: list[tuple[str, float]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), number(v)) for k, v in value.items()]
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping):
            pairs.append((str(item.get("value")), number(item.get("count"))))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((str(item[0]), number(item[1])))
    cleaned = [(label, count) for label, count in pairs if count is not None]
    return sorted(cleaned, key=lambda pair: -pair[1])


def _correlations(value: Any) -> list[tuple[str, str, float]]:
    found: dict[frozenset[str], tuple[str, str, float]] = {}
    if isinstance(value, Mapping):
        matrix = value.get("pearson", value)
        if isinstance(matrix, Mapping) and isinstance(matrix.get("columns"), list):
            # {"columns": [names], "matrix": [[r, ...], ...]}, as datasets stores it.
            names = matrix["columns"]
            rows = matrix.get("matrix", matrix.get("values")) or []
            matrix = {
                names[i]: dict(zip(names, row, strict=False))
                for i, row in enumerate(rows)
            }
        if isinstance(matrix, list):
            value = matrix
        else:
            for left, row in (matrix or {}).items():
                for right, r in (row or {}).items() if isinstance(row, Mapping) else []:
                    _add_pair(found, str(left), str(right), number(r))
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        left, right = _pair_names(item)
        r = item.get("r", item.get("value", item.get("correlation")))
        _add_pair(
            found, left, right, number(r if r is not None else item.get("pearson"))
        )
    return sorted(found.values(), key=lambda pair: -abs(pair[2]))


def _pair_names(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    columns = item.get("columns")
    if isinstance(columns, list) and len(columns) == 2:
        return str(columns[0]), str(columns[1])
    for left_key, right_key in (
        ("a", "b"),
        ("x", "y"),
        ("left", "right"),
        ("column_a", "column_b"),
        ("col1", "col2"),
    ):
        if item.get(left_key) is not None and item.get(right_key) is not None:
            return str(item[left_key]), str(item[right_key])
    return None, None


def _add_pair(found: dict, left: str | None, right: str | None, r: float | None):
    if left is None or right is None or r is None or left == right:
        return
    found.setdefault(frozenset((left, right)), (left, right, r))


def _quality(value: Any, profile: Mapping[str, Any]) -> tuple[float | None, list[str]]:
    reasons_raw: Any = profile.get("quality_reasons", [])
    score = number(value)
    if isinstance(value, Mapping):
        score = number(value.get("score", value.get("value")))
        reasons_raw = value.get("reasons", reasons_raw)
    reasons = []
    for reason in reasons_raw or []:
        if isinstance(reason, Mapping):
            reason = reason.get("message", reason.get("reason", ""))
        if reason:
            reasons.append(str(reason))
    return score, reasons
