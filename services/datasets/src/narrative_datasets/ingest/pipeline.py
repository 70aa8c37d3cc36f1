"""Turn an uploaded file into a typed table, its profile and a Parquet copy.

Everything here is CPU work on local files; the service runs it in a
worker thread.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from narrative_datasets.ingest.csv_reader import read_csv
from narrative_datasets.ingest.delimiter import detect_delimiter
from narrative_datasets.ingest.encoding import (
    CP1252,
    SNIFF_BYTES,
    UTF8_BOM,
    UTF16,
    detect_encoding,
    detect_utf16,
    reject_binary,
    transcode_to_utf8,
)
from narrative_datasets.ingest.errors import InvalidFileError, UnsupportedFileTypeError
from narrative_datasets.ingest.pii import SAMPLE_VALUES, detect_pii
from narrative_datasets.ingest.profile import profile_table
from narrative_datasets.ingest.quality import quality_score
from narrative_datasets.ingest.types import ColumnType, infer_column
from narrative_datasets.ingest.xlsx_reader import read_xlsx

CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
PARQUET_ROW_GROUP_ROWS = 100_000


@dataclass(frozen=True)
class IngestLimits:
    """Bounds on a table's width and on the cost and size of its profile."""

    max_columns: int = 1000
    max_correlation_columns: int = 100


@dataclass
class IngestResult:
    curated: pl.DataFrame
    columns: list[ColumnType]
    profile: dict
    quality: dict
    pii: list[dict]
    source: dict
    parquet_path: Path
    timings: dict[str, float] = field(default_factory=dict)


def file_format(filename: str) -> str:
    """Return "csv" or "xlsx" from the file name, or raise UnsupportedFileTypeError."""
    lowered = filename.lower()
    if lowered.endswith(CSV_EXTENSIONS):
        return "csv"
    if lowered.endswith(XLSX_EXTENSIONS):
        return "xlsx"
    suffix = Path(filename).suffix or "(none)"
    raise UnsupportedFileTypeError(
        f"File {filename!r} has the extension {suffix}, which is not supported. "
        "Upload a .csv, .tsv, .txt or .xlsx file."
    )


def ingest_file(
    path: Path,
    filename: str,
    sheet: str | None,
    work_dir: Path,
    limits: IngestLimits = IngestLimits(),
) -> IngestResult:
    """Parse, type and profile the file, and write its curated Parquet copy."""
    fmt = file_format(filename)
    if path.stat().st_size == 0:
        raise InvalidFileError(
            "empty_file",
            f"File {filename!r} is empty: it needs a header row with column names "
            "and at least one data row.",
        )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if fmt == "csv":
        if sheet is not None:
            raise InvalidFileError(
                "sheet_not_applicable",
                f"The `sheet` field applies to XLSX files, but {filename!r} is CSV. "
                "Remove the field.",
            )
        frame, source = _read_csv_file(path, filename, work_dir, limits.max_columns)
    else:
        frame, chosen, sheets = read_xlsx(path, sheet, filename, limits.max_columns)
        source = {"format": "xlsx", "sheet": chosen, "sheets": sheets}
    if frame.height == 0:
        raise InvalidFileError(
            "no_rows",
            f"File {filename!r} has a header but no data rows. Add at least one row.",
        )
    pii = detect_pii(frame.head(SAMPLE_VALUES))
    curated, columns = type_columns(frame, source.get("delimiter"))
    del frame
    source["decimal_comma"] = any(column.decimal_comma for column in columns)
    timings["parse"] = time.perf_counter() - started

    started = time.perf_counter()
    profile = profile_table(curated, columns, limits.max_correlation_columns)
    quality = quality_score(profile, pii)
    profile["pii"] = pii
    timings["profile"] = time.perf_counter() - started

    parquet_path = work_dir / "curated.parquet"
    curated.write_parquet(
        parquet_path, compression="snappy", row_group_size=PARQUET_ROW_GROUP_ROWS
    )
    return IngestResult(
        curated, columns, profile, quality, pii, source, parquet_path, timings
    )


def _read_csv_file(
    path: Path, filename: str, work_dir: Path, max_columns: int
) -> tuple[pl.DataFrame, dict]:
    text_path = path
    if detect_utf16(path, filename):
        encoding = UTF16
        text_path = work_dir / "transcoded.csv"
        _transcode_utf16(path, text_path, filename)
        reject_binary(text_path, filename)
    else:
        reject_binary(path, filename)
        encoding = detect_encoding(path)
        if encoding == CP1252:
            text_path = work_dir / "transcoded.csv"
            transcode_to_utf8(path, text_path, CP1252)
    with text_path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    sample = head.decode("utf-8-sig", errors="ignore")
    delimiter = detect_delimiter(sample)
    frame = read_csv(text_path, delimiter, filename, max_columns)
    if text_path != path:
        text_path.unlink()
    source = {
        "format": "csv",
        "encoding": "utf-8" if encoding == UTF8_BOM else encoding,
        "bom": encoding in (UTF8_BOM, UTF16),
        "delimiter": delimiter,
    }
    return frame, source


def _transcode_utf16(path: Path, target: Path, filename: str) -> None:
    try:
        transcode_to_utf8(path, target, UTF16, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidFileError(
            "invalid_encoding",
            f"File {filename!r} starts with a UTF-16 byte order mark but is not "
            f"valid UTF-16 ({exc.reason} at byte {exc.start}). Save it as CSV "
            "UTF-8 and upload it again.",
        ) from exc


def type_columns(
    frame: pl.DataFrame, delimiter: str | None
) -> tuple[pl.DataFrame, list[ColumnType]]:
    """Infer each column's type and replace it by its typed copy, one at a time."""
    columns = []
    for name in frame.columns:
        column, typed = infer_column(frame[name], delimiter)
        columns.append(column)
        # Replacing a column keeps its position and frees the string copy.
        frame = frame.with_columns(typed.alias(name))
    return frame, columns
