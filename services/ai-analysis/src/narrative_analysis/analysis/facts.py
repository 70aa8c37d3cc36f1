"""Fact paths: every number an analysis may cite, keyed by where it comes from.

A path names a field of the dataset profile or of the model's metadata:

- `rows`, `column_count`, `quality_score`, `column_types[numeric]` (columns
  of that type)
- `columns[Age].missing`, `.count`, `.distinct`, `.min`, `.max`, `.mean`,
  `.std`, `.quantiles[p50]`, `.top_values[Yes].count`
- `columns[Age].missing_share` and `columns[Churn].top_values[Yes].share`,
  derived as a fraction of `rows`; `columns[X].distinct_share` likewise
- `correlations[tenure,TotalCharges]`: Pearson's r of the pair, either order
- `metrics.roc_auc`, `baseline_metrics.accuracy`, `feature_importances[tenure]`,
  `leaderboard[random_forest].f1`, and any other numeric leaf of the model's
  metadata, with `[key]` for keys that are not plain identifiers

A cited value matches its field when it is within 1% of it or within 0.005,
and a percentage (26.5 for 0.265) matches the fraction it was written from.
"""

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

RELATIVE_TOLERANCE = 0.01
ABSOLUTE_TOLERANCE = 0.005

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUOTES = str.maketrans("", "", "\"'`")


class Facts:
    """Numbers by canonical path, with a forgiving lookup for cited paths."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self.values = dict(values)
        self._loose = {_loose_key(path): path for path in self.values}

    def resolve(self, source: str) -> str | None:
        """Return the canonical path a cited source names, or None."""
        cleaned = source.strip().translate(_QUOTES).replace(" ", "")
        if cleaned in self.values:
            return cleaned
        path = self._loose.get(_loose_key(cleaned))
        if path is not None:
            return path
        return self._swapped_correlation(cleaned)

    def get(self, source: str) -> float | None:
        path = self.resolve(source)
        return None if path is None else self.values[path]

    def _swapped_correlation(self, source: str) -> str | None:
        match = re.fullmatch(r"correlations\[(.+),(.+)\]", source)
        if match is None:
            return None
        swapped = f"correlations[{match.group(2)},{match.group(1)}]"
        return self._loose.get(_loose_key(swapped))


def _loose_key(path: str) -> str:
    # `columns.Age.missing`, `columns[Age].missing` and `Columns[age]['missing']`
    # all reduce to the same key.
    cleaned = path.translate(_QUOTES).replace(" ", "").lower()
    return re.sub(r"[\[\].]+", ".", cleaned).strip(".")


def matches(cited: float, actual: float) -> bool:
    """Tell whether a cited number agrees with a field, allowing for rounding."""
    if not (math.isfinite(cited) and math.isfinite(actual)):
        return False
    if _close(cited, actual):
        return True
    # 26.5 written for 0.265, or 0.265 written for a field stored as 26.5.
    return _close(cited / 100, actual) or _close(cited, actual / 100)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(RELATIVE_TOLERANCE * abs(b), ABSOLUTE_TOLERANCE)


def key_segment(key: str) -> str:
    """Return `.key` for identifier keys and `[key]` for any other key."""
    return f".{key}" if _IDENTIFIER.match(key) else f"[{key}]"


def number(value: Any) -> float | None:
    """Return value as a finite float, or None when it is not a number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def flatten_numbers(prefix: str, value: Any, name_keys: Iterable[str] = ()) -> dict:
    """Collect every numeric leaf under value as `path -> number`.

    A list of objects is indexed by the first of name_keys an element has
    (`leaderboard[random_forest]`), else by position.
    """
    names = tuple(name_keys)
    found: dict[str, float] = {}
    scalar = number(value)
    if scalar is not None:
        found[prefix] = scalar
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found |= flatten_numbers(prefix + key_segment(str(key)), item, names)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            label = str(index)
            if isinstance(item, Mapping):
                label = next(
                    (str(item[key]) for key in names if item.get(key) is not None),
                    label,
                )
            found |= flatten_numbers(f"{prefix}[{label}]", item, names)
    return found
