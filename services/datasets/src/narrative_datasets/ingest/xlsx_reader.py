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
from narrative_datasets.ingest.header import check_column_count, validate_header


class SheetNotFoundError(InvalidFileError):
    def __init__(self, sheet: str, available: list[str]) -> None:
        listed = ", ".join(repr(name) for name in available)
        super().__init__(
            "sheet_not_found",
            f"Sheet {sheet!r} was not found. The workbook's sheets are: {listed}. "
            "Send one of them in the `sheet` form field.",
        )


def read_xlsx(
    path: Path, sheet: str | None, filename: str, max_columns: int
) -> tuple[pl.DataFrame, str, list[str]]:
    """Return the sheet's values as trimmed strings, its name and all sheet names.

    Without `sheet`, the first sheet is read.

    The sheet's used range (every cell with a value) is checked against
    `max_columns` before any cell is read. Columns after the last named
    header cell are dropped when they are empty; a value in one is rejected,
    because it has no column to go to.
    """
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
    worksheet = workbook.get_sheet_by_name(chosen)
    check_column_count(
        worksheet.width,
        max_columns,
        filename,
        f" in sheet {chosen!r} (cells with values span columns "
        f"{column_letter(worksheet.start[1])} to {column_letter(worksheet.end[1])})",
    )
    rows = worksheet.to_python(skip_empty_area=True)
    header = [cell_text(cell) for cell in rows[0]] if rows else []
    while header and not header[-1].strip():
        header.pop()
    columns = validate_header(header, filename)
    width = len(columns)
    first_row, first_column = worksheet.start
    values: list[list[str | None]] = [[] for _ in range(width)]
    for offset, row in enumerate(rows[1:], start=1):
        beyond = _first_value_index(row, width)
        if beyond is not None:
            raise _unnamed_cell(
                filename, chosen, first_row + offset, first_column + beyond
            )
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
    return normalize_strings(frame), chosen, names


def _first_value_index(row: list, width: int) -> int | None:
    """Return the index of the first non-blank cell at or after `width`."""
    rest = row[width:]
    # calamine returns "" for empty cells; counting them runs in C.
    if rest.count("") == len(rest):
        return None
    for index in range(width, len(row)):
        if cell_text(row[index]).strip():
            return index
    return None


def _unnamed_cell(filename: str, sheet: str, row: int, column: int) -> InvalidFileError:
    cell = f"{column_letter(column)}{row + 1}"
    return InvalidFileError(
        "unnamed_column",
        f"Cell {cell} of sheet {sheet!r} in {filename!r} has a value, but its "
        "column has no name in the header row. Delete the cell or give its "
        "column a name.",
    )


def column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 is A)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


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
