"""Checks on a table's column names, shared by the CSV and XLSX readers."""

import re
from collections import Counter

from narrative_datasets.ingest.errors import InvalidFileError, TooManyColumnsError

# Names are stored several times in a dataset's document (column list,
# profile, correlations), so their length bounds the document's size.
MAX_COLUMN_NAME_CHARS = 255
# C0 controls, DEL, and the bidirectional embeddings, overrides and isolates,
# which can make a name display differently from how it is stored.
FORBIDDEN_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def check_column_count(count: int, limit: int, filename: str, where: str = "") -> None:
    """Raise TooManyColumnsError before a table wider than `limit` is parsed."""
    if count > limit:
        raise TooManyColumnsError(filename, count, limit, where)


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
    for position, name in enumerate(cleaned, start=1):
        forbidden = FORBIDDEN_NAME_CHARS.search(name)
        if forbidden is not None:
            raise InvalidFileError(
                "invalid_column_name",
                f"Column {position} of {filename!r} has a name containing the "
                f"control character U+{ord(forbidden.group()):04X}. Remove control "
                "and text-direction characters from the column names.",
            )
        if len(name) > MAX_COLUMN_NAME_CHARS:
            raise InvalidFileError(
                "column_name_too_long",
                f"Column {position} of {filename!r} has a name of {len(name)} "
                f"characters, more than the limit of {MAX_COLUMN_NAME_CHARS}. "
                "Shorten the name.",
            )
    repeated = sorted(name for name, count in Counter(cleaned).items() if count > 1)
    if repeated:
        listed = ", ".join(repr(name) for name in repeated)
        raise InvalidFileError(
            "duplicate_columns",
            f"File {filename!r} repeats the column names {listed}. Rename the "
            "columns so that each name is unique.",
        )
    return cleaned
