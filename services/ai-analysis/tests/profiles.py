"""Profiles of the shared datasets, in the shape the datasets service returns.

The column types come from the datasets service's own type inference; the
statistics are computed here with polars.
"""

from functools import cache
from pathlib import Path

import polars as pl
import pytest

from narrative_datasets.ingest.csv_reader import read_csv
from narrative_datasets.ingest.types import ColumnKind, infer_column

DATASETS_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"
TOP_VALUES = 10


def shared_dataset(name: str) -> Path:
    path = DATASETS_DIR / name
    if not DATASETS_DIR.is_dir():
        pytest.skip(f"the shared datasets folder {DATASETS_DIR} is absent")
    return path


@cache
def dataset_profile(name: str) -> dict:
    """Profile one shared CSV: per-column stats, correlations and row count."""
    frame = read_csv(shared_dataset(name), ",", name, max_columns=1000)
    columns, numeric = [], {}
    for column_name in frame.columns:
        column_type, typed = infer_column(frame[column_name], ",")
        stats = _column_stats(column_type.kind, typed)
        columns.append({"name": column_name, "type": column_type.kind.value, **stats})
        if column_type.kind is ColumnKind.NUMERIC:
            numeric[column_name] = typed.cast(pl.Float64)
    return {
        "rows": frame.height,
        "columns": columns,
        "correlations": _correlations(pl.DataFrame(numeric)),
        "quality_score": {"score": 0.9, "reasons": []},
        "pii_columns": [],
    }


def _column_stats(kind: ColumnKind, values: pl.Series) -> dict:
    present = values.drop_nulls()
    stats: dict = {
        "count": present.len(),
        "missing": values.null_count(),
        "distinct": present.n_unique(),
    }
    if kind is ColumnKind.NUMERIC or values.dtype == pl.Int64:
        as_float = present.cast(pl.Float64)
        stats |= {
            "min": as_float.min(),
            "max": as_float.max(),
            "mean": as_float.mean(),
            "std": as_float.std(),
            "quantiles": {
                f"p{q}": as_float.quantile(q / 100, "linear")
                for q in (5, 25, 50, 75, 95)
            },
        }
    if kind is not ColumnKind.NUMERIC or stats["distinct"] <= 20:
        counts = present.cast(pl.String).value_counts(sort=True).head(TOP_VALUES)
        stats["top_values"] = [
            {"value": row[0], "count": row[1]} for row in counts.iter_rows()
        ]
    return stats


def _correlations(frame: pl.DataFrame) -> list[dict]:
    pairs = []
    names = frame.columns
    for i, left in enumerate(names):
        for right in names[i + 1 :]:
            both = frame.select(left, right).drop_nulls()
            if both.height < 3:
                continue
            r = both.select(pl.corr(left, right)).item()
            if r is not None and r == r:
                pairs.append({"columns": [left, right], "r": r})
    return pairs
