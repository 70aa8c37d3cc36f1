"""Settings of the datasets service: the shared ones plus `DATASETS_` fields."""

from functools import lru_cache

from pydantic import AliasChoices, Field

from narrative_common.settings import CommonSettings


class DatasetsSettings(CommonSettings):
    max_upload_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1,
        validation_alias=AliasChoices("DATASETS_MAX_UPLOAD_BYTES", "max_upload_bytes"),
        description="Largest accepted uploaded file, in bytes.",
    )
    temp_dir: str | None = Field(
        None,
        validation_alias=AliasChoices("DATASETS_TEMP_DIR", "temp_dir"),
        description="Folder for uploads being parsed; the system default when unset.",
    )
    preview_max_rows: int = Field(
        1000,
        ge=1,
        validation_alias=AliasChoices("DATASETS_PREVIEW_MAX_ROWS", "preview_max_rows"),
        description="Largest `limit` accepted by the preview endpoint, in rows.",
    )
    max_columns: int = Field(
        1000,
        ge=1,
        validation_alias=AliasChoices("DATASETS_MAX_COLUMNS", "max_columns"),
        description="Maximum number of columns in an uploaded table (400 above).",
    )
    max_correlation_columns: int = Field(
        100,
        ge=2,
        validation_alias=AliasChoices(
            "DATASETS_MAX_CORRELATION_COLUMNS", "max_correlation_columns"
        ),
        description=(
            "Maximum number of numeric columns in the profile's correlation "
            "matrix. The columns with the fewest missing values are kept."
        ),
    )


@lru_cache
def get_settings() -> DatasetsSettings:
    return DatasetsSettings()
