"""Problem-type detection and the checks a target must pass before fitting."""

import numpy as np
import pandas as pd

from narrative_training.pipeline.columns import category_strings
from narrative_training.pipeline.errors import TrainingInputError

CLASSIFICATION = "classification"
REGRESSION = "regression"

# An integer target with at most this many distinct values is read as classes
# (ratings, counts of categories), one with more as a quantity.
MAX_INTEGER_CLASSES = 10
# Explicit classification of a numeric target is accepted up to this many classes.
MAX_CLASSES = 50
TEST_SIZE = 0.2
CV_FOLDS = 5
# Every class needs enough rows for one in the 20% test split and one in each
# of the 5 training folds; 8 leaves a margin for rounding in the splits.
MIN_ROWS_PER_CLASS = 8
MIN_ROWS = 30


def detect_problem_type(series: pd.Series, column_type: str) -> str:
    """Return classification for boolean, categorical or few-valued integer targets."""
    if column_type in ("boolean", "categorical"):
        return CLASSIFICATION
    values = series.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return CLASSIFICATION
    as_float = values.to_numpy(dtype="float64")
    integral = bool(np.all(np.mod(as_float, 1) == 0))
    if integral and values.nunique() <= MAX_INTEGER_CLASSES:
        return CLASSIFICATION
    return REGRESSION


def prepare_target(series: pd.Series, target: str, problem_type: str) -> pd.Series:
    """Check the target and return it as class strings or float values.

    Rows without a target value are rejected rather than dropped, so the row
    count the analyst sees in the dataset is the one the model learned from.
    """
    missing = int(series.isna().sum())
    if missing:
        raise TrainingInputError(
            f"Target '{target}' has no value on {missing} of {len(series)} rows. "
            "Fill or remove those rows and upload the dataset again, or choose "
            "another target."
        )
    if len(series) < MIN_ROWS:
        raise TrainingInputError(
            f"The dataset has {len(series)} rows; training needs at least "
            f"{MIN_ROWS} for a test split and 5-fold cross-validation."
        )
    if problem_type == REGRESSION:
        return _regression_target(series, target)
    return _classification_target(series, target)


def _regression_target(series: pd.Series, target: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise TrainingInputError(
            f"Target '{target}' is not numeric, so it cannot be predicted by "
            "regression. Use problem_type 'classification' or 'auto'."
        )
    values = series.astype("float64")
    if not np.all(np.isfinite(values.to_numpy())):
        raise TrainingInputError(
            f"Target '{target}' contains infinite values. Replace them and "
            "upload the dataset again."
        )
    if values.nunique() < 2:
        raise TrainingInputError(
            f"Target '{target}' has the same value on every row, so there is "
            "nothing to predict. Choose another target."
        )
    return values


def _classification_target(series: pd.Series, target: str) -> pd.Series:
    labels = pd.Series(category_strings(series), index=series.index, dtype=object)
    counts = labels.value_counts()
    if len(counts) < 2:
        raise TrainingInputError(
            f"Target '{target}' has a single class ('{counts.index[0]}'), so "
            "there is nothing to predict. Choose a target with at least two "
            "classes."
        )
    if len(counts) > MAX_CLASSES:
        raise TrainingInputError(
            f"Target '{target}' has {len(counts)} distinct values; "
            f"classification supports at most {MAX_CLASSES} classes. Use "
            "problem_type 'regression' for a quantity, or group the classes."
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if len(rare):
        listed = ", ".join(f"'{label}' ({count})" for label, count in rare.items())
        raise TrainingInputError(
            f"Target '{target}' has classes with too few rows: {listed}. Each "
            f"class needs at least {MIN_ROWS_PER_CLASS} rows for a 20% test "
            "split and 5-fold cross-validation. Merge rare classes into "
            "another class or remove those rows."
        )
    return labels
