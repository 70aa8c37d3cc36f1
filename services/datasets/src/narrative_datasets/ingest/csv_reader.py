"""Read a UTF-8 CSV file into a frame of trimmed strings.

pyarrow parses the file in blocks (quoted newlines allowed) and rejects a
row whose field count differs from the header's. Each block becomes a
polars frame at once, so the raw arrow strings of the whole file never
exist at the same time. Values are trimmed, and blank values become null.
"""

import csv
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from narrative_datasets.ingest.errors import InvalidFileError
from narrative_datasets.ingest.header import check_column_count, validate_header

BLOCK_BYTES = 16 << 20


def read_header(path: Path, delimiter: str, filename: str) -> list[str]:
    """Return the first record of the file, parsed with CSV quoting rules."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            return next(csv.reader(handle, delimiter=delimiter))
        except StopIteration:
            return []
        except csv.Error as exc:
            raise InvalidFileError(
                "unreadable_csv",
                f"The header row of {filename!r} could not be parsed ({exc}). "
                "Check that its first line contains the column names.",
            ) from exc


def read_csv(
    path: Path, delimiter: str, filename: str, max_columns: int
) -> pl.DataFrame:
    """Parse the file into trimmed strings; blank values are null."""
    raw_names = read_header(path, delimiter, filename)
    check_column_count(len(raw_names), max_columns, filename)
    names = validate_header(raw_names, filename)
    reader_options = pa_csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True)
    parse_options = pa_csv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True
    )
    convert_options = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in raw_names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    parts: list[pl.DataFrame] = []
    try:
        with pa_csv.open_csv(
            path,
            read_options=reader_options,
            parse_options=parse_options,
            convert_options=convert_options,
        ) as reader:
            for batch in reader:
                part = pl.from_arrow(batch.rename_columns(names))
                parts.append(normalize_strings(part))
    except pa.ArrowInvalid as exc:
        raise _parse_error(path, delimiter, len(names), filename, exc) from exc
    if not parts:
        return pl.DataFrame({name: pl.Series(name, [], pl.String) for name in names})
    return pl.concat(parts, rechunk=False)


def normalize_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Trim every value and turn blank ones into null."""
    return frame.select(
        pl.col(name).cast(pl.String).str.strip_chars().replace("", None)
        for name in frame.columns
    )


def _parse_error(
    path: Path, delimiter: str, width: int, filename: str, exc: Exception
) -> InvalidFileError:
    line, fields = find_ragged_row(path, delimiter, width)
    if line is None:
        return InvalidFileError(
            "unreadable_csv",
            f"File {filename!r} could not be parsed as CSV: {exc}. Check its "
            "quoting: every opening double quote needs a closing one.",
        )
    return InvalidFileError(
        "ragged_row",
        f"Line {line} of {filename!r} has {fields} fields but the header has "
        f"{width}. Make every row have one value per column (quote values "
        "that contain the delimiter).",
    )


def find_ragged_row(path: Path, delimiter: str, width: int) -> tuple[int | None, int]:
    """Return the line and field count of the first row whose width differs.

    The scan runs only after the fast parser failed, so its speed does not
    matter. Blank lines are skipped, as the parser skips them.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if record and len(record) != width:
                return start, len(record)
            start = reader.line_num + 1
    return None, 0
