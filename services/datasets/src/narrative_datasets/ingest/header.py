"""Checks on a table's column names, shared by the CSV and XLSX readers."""

from collections import Counter

from narrative_datasets.ingest.errors import InvalidFileError


def validate_header(names: list[str], filename: str) -> list[str]:
    """Return the column names, or raise when they are missing or repeated.

    Names keep their exact spelling apart from surrounding whitespace. A
    blank name becomes `column_<position>` (1-based), as spreadsheets export
    an unnamed index column with a blank header.
    """
    if not names or all(not name.strip() for name in names):
        raise InvalidFileError(
            "empty_file",
            f"File {filename!r} is empty: it needs a header row with column "
            "names and at least one data row.",
        )
    cleaned = [
        name.strip() or f"column_{position}"
        for position, name in enumerate(names, start=1)
    ]
    repeated = sorted(name for name, count in Counter(cleaned).items() if count > 1)
    if repeated:
        listed = ", ".join(repr(name) for name in repeated)
        raise InvalidFileError(
            "duplicate_columns",
            f"File {filename!r} repeats the column names {listed}. Rename the "
            "columns so that each name is unique.",
        )
    return cleaned
