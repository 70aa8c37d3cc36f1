"""Pearson correlations over pairwise-complete rows, in one pass of row chunks.

For every pair of columns the sums over the rows where both are present
come out of four matrix products per chunk, so missing values in one
column do not blank out its correlations (polars' DataFrame.corr returns
NaN for any column with a missing value). Columns are centred on their
mean first to keep the sums accurate.
"""

import math

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
    matrix: list[list[float | None]] = []
    for i in range(width):
        row: list[float | None] = []
        for j in range(width):
            row.append(
                _pearson(
                    count[i, j],
                    sums[i, j],
                    sums[j, i],
                    squares[i, j],
                    squares[j, i],
                    products[i, j],
                )
            )
        matrix.append(row)
    return matrix


def _pearson(n, sum_x, sum_y, sum_xx, sum_yy, sum_xy) -> float | None:
    if n < 2:
        return None
    covariance = sum_xy - sum_x * sum_y / n
    variance_x = sum_xx - sum_x * sum_x / n
    variance_y = sum_yy - sum_y * sum_y / n
    if variance_x <= 1e-12 * max(sum_xx, 1.0) or variance_y <= 1e-12 * max(sum_yy, 1.0):
        return None
    value = covariance / math.sqrt(variance_x * variance_y)
    return round(max(-1.0, min(1.0, value)), 6)
