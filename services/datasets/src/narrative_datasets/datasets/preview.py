"""Read a window of rows from a curated Parquet copy, as JSON-safe lists."""

import io
import math
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def read_window(data: bytes, offset: int, limit: int) -> tuple[list[str], list[list]]:
    """Return column names and rows [offset, offset + limit), reading only the
    row groups that overlap the window."""
    parquet = pq.ParquetFile(io.BytesIO(data))
    names = parquet.schema_arrow.names
    end = offset + limit
    tables = []
    first_row = 0
    skip = 0
    for group in range(parquet.num_row_groups):
        group_rows = parquet.metadata.row_group(group).num_rows
        last_row = first_row + group_rows
        if last_row > offset and first_row < end:
            if not tables:
                skip = offset - first_row
            tables.append(parquet.read_row_group(group))
        first_row = last_row
    if not tables:
        return names, []
    window = pa.concat_tables(tables).slice(skip, limit)
    columns = [window.column(index).to_pylist() for index in range(window.num_columns)]
    rows = [[json_safe(value) for value in row] for row in zip(*columns, strict=True)]
    return names, rows


def json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
