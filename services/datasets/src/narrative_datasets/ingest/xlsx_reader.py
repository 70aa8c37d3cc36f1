"""Read one sheet of an XLSX workbook into a frame of trimmed strings.

Cells become the strings a CSV export would hold (integral floats without
".0", dates in ISO 8601, booleans as "true"/"false"), so both formats go
through the same type inference.
"""

import datetime as dt
from pathlib import Path

import polars as pl
import python_calamine

from narrative_datasets.ingest.csv_reader import normalize_strings
from narrative_datasets.ingest.errors import InvalidFileError
from narrative_datasets.ingest.header import validate_header


class SheetNotFoundError(InvalidFileError):
    def __init__(self, sheet: str, available: list[str]) -> None:
        listed = ", ".join(repr(name) for name in available)
        super().__init__(
            "sheet_not_found",
            f"Sheet {sheet!r} was not found. The workbook's sheets are: {listed}. "
            "Send one of them in the `sheet` form field.",
        )


def read_xlsx(path: Path, sheet: str | None, filename: str) -> tuple[pl.DataFrame, str]:
    """Return the sheet's values as trimmed strings and the sheet's name."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise InvalidFileError(
            "unreadable_xlsx",
            f"File {filename!r} is not a readable XLSX workbook ({exc}). Save it "
            "again as .xlsx from your spreadsheet program, or export it as CSV.",
        ) from exc
    names = list(workbook.sheet_names)
    if not names:
        raise InvalidFileError(
            "empty_file", f"Workbook {filename!r} has no sheets. Add a sheet."
        )
    chosen = names[0] if sheet is None else sheet
    if chosen not in names:
        raise SheetNotFoundError(chosen, names)
    rows = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=True)
    header = [cell_text(cell) for cell in rows[0]] if rows else []
    columns = validate_header(header, filename)
    width = len(columns)
    values: list[list[str | None]] = [[] for _ in range(width)]
    for row in rows[1:]:
        texts = [cell_text(cell) for cell in row[:width]]
        if not any(texts):
            continue
        texts.extend([""] * (width - len(texts)))
        for index, text in enumerate(texts):
            values[index].append(text)
    frame = pl.DataFrame(
        {
            f"c{index}": pl.Series(values[index], dtype=pl.String)
            for index in range(width)
        }
    )
    frame.columns = columns
    return normalize_strings(frame), chosen


def cell_text(cell: object) -> str:
    """Return a cell's value as a CSV export would write it."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        if cell.is_integer() and abs(cell) < 2**53:
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    return str(cell)
