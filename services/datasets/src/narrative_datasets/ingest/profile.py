"""Column statistics of a typed table: counts, spread, top values, histograms."""

import math
from datetime import datetime

import numpy as np
import polars as pl

from narrative_datasets.ingest.correlations import pearson_pairwise
from narrative_datasets.ingest.types import ColumnKind, ColumnType

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
TOP_VALUES = 10
# Top values are cut to this many characters, which bounds the profile of a
# 1,000-column table of long text values to a few MB.
MAX_VALUE_CHARS = 100


def profile_table(
    frame: pl.DataFrame, columns: list[ColumnType], max_correlation_columns: int
) -> dict:
    """Return the table's profile; columns and correlations are lists in column order.

    The correlation matrix covers at most `max_correlation_columns` numeric
    columns, those with the fewest missing values, so its cost and size stay
    bounded on wide tables. The others are listed in `omitted_columns`.
    """
    profiles = [profile_column(frame[column.name], column) for column in columns]
    numeric = [
        (column.name, profile["missing"])
        for column, profile in zip(columns, profiles, strict=True)
        if column.dtype in ("int64", "float64")
        and column.kind in (ColumnKind.NUMERIC, ColumnKind.BOOLEAN)
    ]
    correlated, omitted = choose_correlated(numeric, max_correlation_columns)
    matrix = pearson_pairwise(frame.select(correlated))
    return {
        "rows": frame.height,
        "column_count": frame.width,
        "missing_cells": sum(item["missing"] for item in profiles),
        "duplicate_rows": count_duplicate_rows(frame),
        "columns": profiles,
        "correlations": {
            "columns": correlated,
            "matrix": matrix,
            "omitted_columns": omitted,
        },
    }


def choose_correlated(
    numeric: list[tuple[str, int]], limit: int
) -> tuple[list[str], list[str]]:
    """Split (name, missing) pairs into kept and omitted names, both in table order.

    The `limit` columns with the fewest missing values are kept; ties go to
    the earlier column.
    """
    ranked = sorted(range(len(numeric)), key=lambda index: numeric[index][1])
    kept = set(ranked[:limit])
    chosen = [name for index, (name, _) in enumerate(numeric) if index in kept]
    omitted = [name for index, (name, _) in enumerate(numeric) if index not in kept]
    return chosen, omitted


def count_duplicate_rows(frame: pl.DataFrame) -> int:
    """Count rows equal to an earlier row (64-bit row hashes, collisions ignored)."""
    if frame.height == 0 or frame.width == 0:
        return 0
    return frame.height - frame.hash_rows().n_unique()


def profile_column(series: pl.Series, column: ColumnType) -> dict:
    missing = series.null_count()
    present = series.drop_nulls()
    counts = present.value_counts(sort=True, name="count")
    profile: dict = {
        "name": column.name,
        "kind": column.kind.value,
        "dtype": column.dtype,
        "count": present.len(),
        "missing": missing,
        "missing_share": round(missing / series.len(), 6) if series.len() else 0.0,
        "distinct": counts.height,
        "top_values": [
            {"value": json_value(value), "count": count}
            for value, count in counts.head(TOP_VALUES).iter_rows()
        ],
    }
    if column.dtype in ("int64", "float64") and present.len():
        profile.update(numeric_summary(present))
    elif column.dtype == "timestamp" and present.len():
        profile["min"] = json_value(present.min())
        profile["max"] = json_value(present.max())
    elif column.dtype == "string" and present.len():
        lengths = present.str.len_chars()
        profile["mean_length"] = round(float(lengths.mean()), 3)
        profile["max_length"] = int(lengths.max())
    return profile


def numeric_summary(present: pl.Series) -> dict:
    values = present.cast(pl.Float64).to_numpy()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    quantiles = np.quantile(values, QUANTILES)
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return {
        "min": json_value(float(values.min())),
        "max": json_value(float(values.max())),
        "mean": json_value(float(values.mean())),
        "std": json_value(float(values.std(ddof=1))) if values.size > 1 else None,
        "quantiles": [
            {"q": q, "value": json_value(float(v))}
            for q, v in zip(QUANTILES, quantiles, strict=True)
        ],
        "zeros": int((values == 0).sum()),
        "histogram": {
            "edges": [json_value(float(edge)) for edge in edges],
            "counts": [int(count) for count in counts],
        },
    }


def json_value(value: object) -> object:
    """Return a value JSON and BSON can hold: NaN and infinities become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS]
    return value
