"""Response bodies of the datasets API."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ObjectRef(BaseModel):
    bucket: str
    key: str


class ColumnSummary(BaseModel):
    name: str
    type: str = Field(
        description="numeric, boolean, datetime, identifier, categorical or text"
    )
    dtype: str = Field(description="Type in the curated Parquet copy.")
    missing: int
    distinct: int


class QualityReason(BaseModel):
    code: str
    message: str
    penalty: float
    columns: list[str]


class Quality(BaseModel):
    score: float = Field(description="0 to 100; 100 means no problem was found.")
    reasons: list[QualityReason]


class ProfileSummary(BaseModel):
    missing_cells: int
    missing_share: float
    duplicate_rows: int
    pii_columns: list[str]


class Dataset(BaseModel):
    """A stored dataset, without its full profile."""

    id: str
    name: str
    filename: str
    status: str
    rows: int
    column_count: int
    columns: list[ColumnSummary]
    size_bytes: int
    source: dict[str, Any] = Field(
        description=(
            "CSV: format, encoding, bom, delimiter, decimal_comma. XLSX: format, "
            "sheet (the sheet read), sheets (all sheet names), decimal_comma."
        )
    )
    created_at: datetime
    profile_summary: ProfileSummary
    quality: Quality


class InternalDataset(Dataset):
    """A dataset as sibling services see it, with the keys of its objects."""

    raw_object: ObjectRef
    curated_object: ObjectRef


class DatasetProfile(BaseModel):
    """Per-column statistics, correlations, personal data and quality score."""

    dataset_id: str
    rows: int
    column_count: int
    missing_cells: int
    duplicate_rows: int
    columns: list[dict[str, Any]]
    correlations: dict[str, Any] = Field(
        description=(
            "`columns`: names in matrix order; `matrix`: Pearson r or null; "
            "`omitted_columns`: numeric columns left out of the matrix."
        )
    )
    pii: list[dict[str, Any]]
    quality: Quality


class Preview(BaseModel):
    """Rows of the curated copy; each row lists values in `columns` order."""

    columns: list[str]
    rows: list[list[Any]]
    offset: int
    limit: int
    total: int
