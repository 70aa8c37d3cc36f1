"""Feature selection from the dataset's inferred column types.

Column types come from the datasets service: numeric, categorical, boolean,
datetime, text or identifier. Numeric columns reach the model as float32 and
the others as strings, with a missing value written as the empty string,
because skl2onnx converts a string imputer only with a string missing marker
and the inference service must send the same value.
"""

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from narrative_training.pipeline.errors import TrainingInputError

NUMERIC = "numeric"
CATEGORICAL = "categorical"
MISSING_CATEGORY = ""

# Types that never become features unless the request lists them in
# include_columns. Datetime columns are always dropped (see select_features).
_EXCLUDED_BY_DEFAULT = frozenset({"identifier", "text"})
_ID_NAME = re.compile(r"(^|[^a-z])(id|uuid|guid|key)$|^id[^a-z]", re.IGNORECASE)

# A string column whose values are distinct on more than this share of the
# rows names the row rather than describing it.
IDENTIFIER_DISTINCT_RATIO = 0.9
IDENTIFIER_MIN_ROWS = 20


@dataclass(frozen=True)
class Feature:
    """One model input: the dataset column and the ONNX input that carries it."""

    name: str
    kind: str  # NUMERIC or CATEGORICAL
    input_name: str


@dataclass
class FeaturePlan:
    features: list[Feature]
    excluded: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)

    @property
    def numeric(self) -> list[Feature]:
        return [f for f in self.features if f.kind == NUMERIC]

    @property
    def categorical(self) -> list[Feature]:
        return [f for f in self.features if f.kind == CATEGORICAL]


def input_name(index: int, column: str) -> str:
    """Build an ONNX input name from a column name that may hold any character."""
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", column).strip("_")[:40]
    return f"c{index:03d}_{slug}" if slug else f"c{index:03d}"


def looks_like_identifier(name: str, series: pd.Series) -> bool:
    """Tell whether a column names rows (distinct per row) instead of describing them.

    Strings distinct on more than 90% of rows qualify, and so do integers
    distinct on every row when they form a run (1, 2, 3, ...) or the column
    is named like an id.
    """
    values = series.dropna()
    if len(values) < IDENTIFIER_MIN_ROWS:
        return False
    distinct = values.nunique()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return distinct / len(values) > IDENTIFIER_DISTINCT_RATIO
    if distinct != len(values):
        return False
    if not np.all(np.mod(values.to_numpy(dtype="float64"), 1) == 0):
        return False
    span = float(values.max()) - float(values.min()) + 1
    return span == len(values) or bool(_ID_NAME.search(name))


# A categorical column with more distinct values than the first bound, which
# are also more than the second bound's share of its non-missing rows,
# becomes so many sparse one-hot columns that tree models mostly split on
# noise. On Titanic, Ticket (681 values) and Cabin (147 values on 204 rows)
# left a random forest predicting the majority class.
HIGH_CARDINALITY_MIN_DISTINCT = 50
HIGH_CARDINALITY_MIN_RATIO = 0.2


def is_high_cardinality(series: pd.Series) -> bool:
    values = series.dropna()
    distinct = values.nunique()
    return (
        distinct > HIGH_CARDINALITY_MIN_DISTINCT
        and distinct / max(len(values), 1) > HIGH_CARDINALITY_MIN_RATIO
    )


def high_cardinality_warning(column: str, distinct: int) -> dict:
    return {
        "kind": "high_cardinality",
        "column": column,
        "message": (
            f"Column '{column}' has {distinct} different categories, too many "
            "to learn from one-hot columns, so it was left out. List it in "
            "include_columns to keep it, or group its values into fewer "
            "categories first."
        ),
    }


def select_features(
    frame: pd.DataFrame,
    column_types: dict[str, str],
    target: str,
    include_columns: list[str],
) -> FeaturePlan:
    """Choose the feature columns and say which were left out and why.

    Identifier, text and high-cardinality categorical columns are left out
    unless listed in include_columns. Datetime columns are always dropped: a date's meaning
    (seasonality, age) depends on the question, so the analyst adds the
    derived column to the dataset instead.
    """
    included = set(include_columns)
    plan = FeaturePlan(features=[])
    for column in frame.columns:
        if column == target:
            continue
        kind = column_types.get(column, CATEGORICAL)
        if kind == "datetime":
            plan.excluded.append({"name": column, "reason": "datetime"})
            continue
        if kind in _EXCLUDED_BY_DEFAULT and column not in included:
            plan.excluded.append({"name": column, "reason": kind})
            if kind == "identifier":
                plan.warnings.append(identifier_warning(column, kept=False))
            continue
        if column not in included and looks_like_identifier(column, frame[column]):
            plan.excluded.append({"name": column, "reason": "identifier"})
            plan.warnings.append(identifier_warning(column, kept=False))
            continue
        feature_kind = NUMERIC if kind == NUMERIC else CATEGORICAL
        if (
            feature_kind == CATEGORICAL
            and column not in included
            and is_high_cardinality(frame[column])
        ):
            plan.excluded.append({"name": column, "reason": "high_cardinality"})
            plan.warnings.append(
                high_cardinality_warning(column, int(frame[column].nunique()))
            )
            continue
        index = len(plan.features)
        plan.features.append(
            Feature(column, feature_kind, input_name(index, str(column)))
        )
    if not plan.features:
        raise TrainingInputError(
            "No column is left to learn from once the target, identifier, text "
            "and datetime columns are set aside. Add columns to include_columns "
            "or upload a dataset with more columns."
        )
    return plan


def identifier_warning(column: str, *, kept: bool) -> dict:
    action = "kept because include_columns lists it" if kept else "left out"
    return {
        "kind": "identifier",
        "column": column,
        "message": (
            f"Column '{column}' looks like an identifier (a different value on "
            f"almost every row), so it was {action}. Identifiers do not "
            "generalise to new rows."
        ),
    }


def model_inputs(frame: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Build the frame the pipeline sees, one column per ONNX input.

    Numeric values are rounded to float32 here, so scikit-learn trains on
    exactly the values onnxruntime receives.
    """
    columns = {}
    for feature in features:
        series = frame[feature.name]
        if feature.kind == NUMERIC:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
            columns[feature.input_name] = values.astype(np.float32).astype(np.float64)
        else:
            columns[feature.input_name] = category_strings(series)
    return pd.DataFrame(columns, index=frame.index)


def category_strings(series: pd.Series) -> np.ndarray:
    """Convert a column to an object array of str, missing values as ""."""
    out = np.empty(len(series), dtype=object)
    missing = series.isna().to_numpy()
    values = series.to_numpy(dtype=object)
    for i, value in enumerate(values):
        out[i] = MISSING_CATEGORY if missing[i] else _category_text(value)
    return out


def _category_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
