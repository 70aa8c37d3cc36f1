"""Pearson correlations over pairwise-complete rows, in one pass of row chunks.

For every pair of columns the sums over the rows where both are present
come out of four matrix products per chunk, so missing values in one
column do not blank out its correlations (polars' DataFrame.corr returns
NaN for any column with a missing value). Columns are centred on their
mean first to keep the sums accurate.
"""

import numpy as np
import polars as pl

CHUNK_ROWS = 200_000


def pearson_pairwise(frame: pl.DataFrame) -> list[list[float | None]]:
    """Return the correlation matrix of the frame's numeric columns.

    A cell is None when the pair has fewer than two complete rows or a
    column is constant over them.
    """
    width = frame.width
    if width == 0:
        return []
    means = [frame[name].cast(pl.Float64).mean() or 0.0 for name in frame.columns]
    count = np.zeros((width, width))
    sums = np.zeros((width, width))
    squares = np.zeros((width, width))
    products = np.zeros((width, width))
    for start in range(0, frame.height, CHUNK_ROWS):
        chunk = frame.slice(start, CHUNK_ROWS)
        values = np.column_stack(
            [
                chunk[name].cast(pl.Float64).to_numpy() - mean
                for name, mean in zip(chunk.columns, means, strict=True)
            ]
        )
        present = np.isfinite(values)
        values = np.where(present, values, 0.0)
        mask = present.astype(np.float64)
        count += mask.T @ mask
        sums += values.T @ mask
        squares += (values * values).T @ mask
        products += values.T @ values
    return _pearson_matrix(count, sums, squares, products)


def _pearson_matrix(count, sums, squares, products) -> list[list[float | None]]:
    """Combine the sums into r for every pair at once (x is the row, y the column)."""
    safe_count = np.maximum(count, 1.0)
    covariance = products - sums * sums.T / safe_count
    variance_x = squares - sums * sums / safe_count
    variance_y = variance_x.T
    valid = (
        (count >= 2)
        & (variance_x > 1e-12 * np.maximum(squares, 1.0))
        & (variance_y > 1e-12 * np.maximum(squares.T, 1.0))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        values = covariance / np.sqrt(variance_x * variance_y)
    values = np.round(np.clip(values, -1.0, 1.0), 6)
    return [
        [value if ok else None for value, ok in zip(row, mask, strict=True)]
        for row, mask in zip(values.tolist(), valid.tolist(), strict=True)
    ]
