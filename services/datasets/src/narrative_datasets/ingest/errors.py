"""Errors raised while reading an uploaded table; each is a 4xx for the client."""

from narrative_common.errors import AppError


class InvalidFileError(AppError):
    """The uploaded file cannot be read as a table. `code` names the reason."""

    status_code = 400
    code = "invalid_file"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class UnsupportedFileTypeError(AppError):
    status_code = 415
    code = "unsupported_file_type"


class TooManyColumnsError(InvalidFileError):
    def __init__(self, filename: str, count: int, limit: int, where: str = "") -> None:
        super().__init__(
            "too_many_columns",
            f"File {filename!r} has {count} columns{where}, more than the limit of "
            f"{limit}. Remove unused columns, or split the table into several "
            "files.",
        )
        self.count = count
        self.limit = limit
