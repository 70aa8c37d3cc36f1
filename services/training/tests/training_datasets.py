"""Load the shared real datasets with column types like the datasets service's."""

from pathlib import Path

import pandas as pd
import pytest

DATASETS = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"


def load(name: str, rows: int | None = None) -> pd.DataFrame:
    path = DATASETS / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"real datasets folder {DATASETS} is absent")
    frame = pd.read_csv(path)
    if rows is not None and rows < len(frame):
        frame = frame.sample(rows, random_state=0)
    # The datasets service types a text column that parses as numbers on 95% of
    # its rows as numeric (Telco's TotalCharges has blanks).
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            parsed = pd.to_numeric(frame[column], errors="coerce")
            if parsed.notna().mean() > 0.95:
                frame[column] = parsed
    return frame


def column_types(frame: pd.DataFrame) -> dict[str, str]:
    types = {}
    for column in frame.columns:
        if pd.api.types.is_bool_dtype(frame[column]):
            types[column] = "boolean"
        elif pd.api.types.is_numeric_dtype(frame[column]):
            types[column] = "numeric"
        else:
            types[column] = "categorical"
    return types


def dataset_metadata(frame: pd.DataFrame) -> dict:
    """Return the rows and column statistics the datasets service stores."""
    types = column_types(frame)
    columns = []
    for name in frame.columns:
        series = frame[name]
        if types[name] == "numeric":
            integral = pd.api.types.is_integer_dtype(series)
            dtype = "int64" if integral else "float64"
        else:
            dtype = "bool" if types[name] == "boolean" else "string"
        columns.append(
            {
                "name": name,
                "type": types[name],
                "dtype": dtype,
                "missing": int(series.isna().sum()),
                "distinct": int(series.nunique(dropna=True)),
            }
        )
    return {"rows": len(frame), "columns": columns}
