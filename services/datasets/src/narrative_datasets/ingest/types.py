"""Type inference: give each column of trimmed strings a kind and a typed copy.

Kinds are numeric, boolean, datetime, identifier, categorical and free
text. Blank values are already null. Literal missing markers such as "NA"
count as missing only in numeric and datetime columns, because in a text
column "NA" is often a real category ("no alley" in the Ames housing data).
"""

import re
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

SAMPLE_VALUES = 1000
MISSING_MARKERS = ("na", "n/a", "nan", "null", "none", "nat", "#n/a", "?")
BOOLEAN_PAIRS = (
    frozenset({"0", "1"}),
    frozenset({"yes", "no"}),
    frozenset({"true", "false"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
)
DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y",
)
DECIMAL_COMMA_PATTERN = r"^[+-]?\d*,\d+$|^[+-]?\d+$"
ID_NAME_PATTERN = re.compile(r"(^|[_\s.-])id$|[a-z]Id$|ID$|^id[_\s.-]|^key$", re.I)
# A free-text column has mostly distinct values of several words.
TEXT_MIN_DISTINCT = 20
TEXT_MIN_DISTINCT_SHARE = 0.5
TEXT_MIN_MEAN_WORDS = 2.0
IDENTIFIER_MIN_ROWS = 20


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"
    CATEGORICAL = "categorical"
    TEXT = "text"


@dataclass(frozen=True)
class ColumnType:
    """A column's inferred kind and how its curated copy is stored."""

    name: str
    kind: ColumnKind
    dtype: str  # curated Parquet type: int64, float64, timestamp or string
    decimal_comma: bool = False
    datetime_format: str | None = None


def infer_column(
    values: pl.Series, delimiter: str | None
) -> tuple[ColumnType, pl.Series]:
    """Return the column's type and its typed copy; null stays null."""
    name = values.name
    present = values.drop_nulls()
    if present.len() == 0:
        return ColumnType(name, ColumnKind.CATEGORICAL, "string"), values

    boolean = _as_boolean(name, values, present)
    if boolean is not None:
        return boolean

    fast = _as_plain_numeric(name, values, present)
    if fast is not None:
        return fast

    if _may_be_numeric_or_datetime(present, delimiter):
        markers = present.str.to_lowercase().is_in(MISSING_MARKERS)
        candidates = present.filter(~markers)
        without_markers = _null_missing_markers(values)
        numeric = _as_numeric(name, values, without_markers, candidates, delimiter)
        if numeric is not None:
            return numeric
        moment = _as_datetime(name, without_markers, candidates)
        if moment is not None:
            return moment

    return ColumnType(name, _string_kind(present), "string"), values


def _as_plain_numeric(
    name: str, values: pl.Series, present: pl.Series
) -> tuple[ColumnType, pl.Series] | None:
    """Type a column whose every value parses as a number, without marker checks."""
    if present.head(SAMPLE_VALUES).cast(pl.Float64, strict=False).null_count():
        return None
    integers = values.cast(pl.Int64, strict=False)
    if integers.null_count() == values.null_count():
        if _is_integer_identifier(name, integers, present.len()):
            return ColumnType(name, ColumnKind.IDENTIFIER, "string"), values
        return ColumnType(name, ColumnKind.NUMERIC, "int64"), integers
    floats = values.cast(pl.Float64, strict=False)
    if floats.null_count() == values.null_count():
        # "nan" parses as a float, but it marks a missing value.
        floats = floats.fill_nan(None)
        return ColumnType(name, ColumnKind.NUMERIC, "float64"), floats
    return None


def _may_be_numeric_or_datetime(present: pl.Series, delimiter: str | None) -> bool:
    """Check the first values, so that text columns skip the full-column checks."""
    sample = present.head(SAMPLE_VALUES)
    sample = sample.filter(~sample.str.to_lowercase().is_in(MISSING_MARKERS))
    if sample.len() == 0:
        return True
    if sample.cast(pl.Float64, strict=False).null_count() == 0:
        return True
    if delimiter not in (",", None) and _decimal_comma_numbers(sample):
        return True
    return bool(sample.str.contains(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").all())


def _null_missing_markers(values: pl.Series) -> pl.Series:
    is_marker = values.str.to_lowercase().is_in(MISSING_MARKERS)
    return pl.select(pl.when(is_marker).then(None).otherwise(values)).to_series()


def _as_boolean(
    name: str, values: pl.Series, present: pl.Series
) -> tuple[ColumnType, pl.Series] | None:
    sample = set(present.head(SAMPLE_VALUES).str.to_lowercase().unique().to_list())
    if len(sample) > 2 or not any(sample <= pair for pair in BOOLEAN_PAIRS):
        return None
    distinct = frozenset(present.str.to_lowercase().unique().to_list())
    if len(distinct) != 2 or distinct not in BOOLEAN_PAIRS:
        return None
    if distinct == frozenset({"0", "1"}):
        return ColumnType(name, ColumnKind.BOOLEAN, "int64"), values.cast(pl.Int64)
    return ColumnType(name, ColumnKind.BOOLEAN, "string"), values


def _as_numeric(
    name: str,
    values: pl.Series,
    without_markers: pl.Series,
    candidates: pl.Series,
    delimiter: str | None,
) -> tuple[ColumnType, pl.Series] | None:
    if candidates.len() == 0:
        return None
    decimal_comma = False
    if candidates.cast(pl.Float64, strict=False).null_count() > 0:
        if delimiter in (",", None) or not _decimal_comma_numbers(candidates):
            return None
        decimal_comma = True
        without_markers = without_markers.str.replace(",", ".", literal=True)
        candidates = candidates.str.replace(",", ".", literal=True)

    if candidates.cast(pl.Int64, strict=False).null_count() == 0:
        typed = without_markers.cast(pl.Int64)
        if _is_integer_identifier(name, typed, candidates.len()):
            return ColumnType(name, ColumnKind.IDENTIFIER, "string"), values
        column = ColumnType(name, ColumnKind.NUMERIC, "int64", decimal_comma)
        return column, typed
    column = ColumnType(name, ColumnKind.NUMERIC, "float64", decimal_comma)
    return column, without_markers.cast(pl.Float64)


def _decimal_comma_numbers(candidates: pl.Series) -> bool:
    """Return True when every value is a number written with a decimal comma."""
    has_comma = candidates.str.contains(",", literal=True).any()
    return bool(has_comma) and bool(
        candidates.str.contains(DECIMAL_COMMA_PATTERN).all()
    )


def _is_integer_identifier(name: str, typed: pl.Series, present: int) -> bool:
    """Integers are an identifier when unique and either named like one or 1..n."""
    if present < IDENTIFIER_MIN_ROWS or typed.null_count() > 0:
        return False
    low, high = typed.min(), typed.max()
    if not ID_NAME_PATTERN.search(name) and high - low + 1 != present:
        return False
    return typed.n_unique() == present


def _as_datetime(
    name: str, without_markers: pl.Series, candidates: pl.Series
) -> tuple[ColumnType, pl.Series] | None:
    if candidates.len() == 0:
        return None
    sample = candidates.head(SAMPLE_VALUES)
    if not sample.str.contains(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").all():
        return None
    for fmt in DATETIME_FORMATS:
        parsed = sample.str.to_datetime(fmt, strict=False, time_unit="us")
        if parsed.null_count() > 0:
            continue
        typed = without_markers.str.to_datetime(fmt, strict=False, time_unit="us")
        if typed.null_count() == without_markers.null_count():
            column = ColumnType(name, ColumnKind.DATETIME, "timestamp", False, fmt)
            return column, typed
    return None


def _string_kind(present: pl.Series) -> ColumnKind:
    count = present.len()
    distinct = present.n_unique()
    if distinct == count and count >= IDENTIFIER_MIN_ROWS:
        with_space = present.str.contains(r"\s").mean() or 0.0
        if with_space < 0.05:
            return ColumnKind.IDENTIFIER
    if distinct >= TEXT_MIN_DISTINCT and distinct / count > TEXT_MIN_DISTINCT_SHARE:
        mean_words = (present.str.count_matches(r"\s+") + 1).mean() or 0.0
        if mean_words >= TEXT_MIN_MEAN_WORDS:
            return ColumnKind.TEXT
    return ColumnKind.CATEGORICAL
