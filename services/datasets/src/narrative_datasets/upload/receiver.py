"""Stream a multipart/form-data request body into a temporary file.

The body is parsed as it arrives with python-multipart's callback parser:
the `file` part goes straight to disk, counted against the size limit, and
small text fields (`sheet`, `name`) are kept in memory up to a few KB.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from narrative_common.errors import AppError, PayloadTooLargeError, field_error

FILE_FIELD = "file"
TEXT_FIELDS = ("sheet", "name")
MAX_TEXT_FIELD_BYTES = 4096
# Boundaries and part headers around the file, allowed beyond the file limit.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass
class ReceivedUpload:
    path: Path
    filename: str
    size_bytes: int
    fields: dict[str, str] = field(default_factory=dict)


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The file is larger than the limit of {limit} bytes "
        f"({limit / 1024 / 1024:.0f} MB). Upload a smaller file or split it.",
        code="file_too_large",
    )


def check_content_length(request: Request, limit: int) -> None:
    """Reject early when the declared body size already exceeds the limit."""
    declared = request.headers.get("content-length")
    if (
        declared
        and declared.isdigit()
        and int(declared) > limit + MULTIPART_OVERHEAD_BYTES
    ):
        raise too_large(limit)


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(
        request.headers.get("content-type", "")
    )
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise AppError(
            "Send the upload as multipart/form-data with the table in the `file` "
            "field, for example `curl -F file=@data.csv ...`.",
            code="multipart_required",
            status_code=415,
        )
    return boundary


class _PartCollector:
    """Callbacks for MultipartParser that route each part's bytes."""

    def __init__(self, target: Path, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.handle: BinaryIO | None = None
        self.filename: str | None = None
        self.size = 0
        self.fields: dict[str, str] = {}
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part_name: str | None = None
        self._text = bytearray()
        self.error: AppError | None = None
        # Set when the parser reads the closing boundary; a body cut short
        # (a dropped connection, a client that stopped sending) never gets it.
        self.complete = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._headers = {}
        self._part_name = None
        self._text = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(
            self._headers.get(b"content-disposition", b"")
        )
        self._part_name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._part_name == FILE_FIELD and self.handle is not None:
            # A second `file` part would otherwise be appended to the first.
            self.error = AppError(
                "The upload has more than one part named `file`. Send exactly "
                "one file per upload, e.g. `-F file=@data.csv`.",
                code="multiple_files",
                status_code=400,
            )
            self._part_name = None
        elif self._part_name == FILE_FIELD:
            raw_name = options.get(b"filename", b"").decode("utf-8", "replace")
            self.filename = Path(raw_name.replace("\\", "/")).name
            self.handle = self.target.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        if self._part_name == FILE_FIELD and self.handle is not None:
            self.size += end - start
            if self.size > self.limit:
                self.error = too_large(self.limit)
                return
            self.handle.write(data[start:end])
        elif self._part_name in TEXT_FIELDS:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_FIELD_BYTES:
                self.error = field_error(
                    f"body.{self._part_name}",
                    f"must be at most {MAX_TEXT_FIELD_BYTES} bytes",
                    status_code=400,
                )

    def on_part_end(self) -> None:
        if self._part_name in TEXT_FIELDS and self.error is None:
            self.fields[self._part_name] = self._text.decode("utf-8", "replace")
        self._part_name = None

    def on_end(self) -> None:
        self.complete = True

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _incomplete_upload() -> AppError:
    return AppError(
        "The upload was incomplete: the multipart body ended before its closing "
        "boundary, so part of the file is missing and nothing was stored. Send "
        "the file again.",
        code="incomplete_upload",
        status_code=400,
    )


async def receive_upload(request: Request, target: Path, limit: int) -> ReceivedUpload:
    """Write the request's `file` part to `target`; raise a 4xx on a bad body."""
    check_content_length(request, limit)
    collector = _PartCollector(target, limit)
    parser = MultipartParser(_boundary(request), collector.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if collector.error is not None:
                raise collector.error
        parser.finalize()
        if not collector.complete:
            raise _incomplete_upload()
    except MultipartParseError as exc:
        raise AppError(
            f"The multipart body could not be parsed ({exc}). Send the file as "
            "multipart/form-data in the `file` field.",
            code="invalid_multipart",
            status_code=400,
        ) from exc
    finally:
        collector.close()
    if collector.filename is None:
        raise field_error(
            f"body.{FILE_FIELD}",
            "is missing: send the table as a file in the `file` form field",
            status_code=422,
        )
    if not collector.filename:
        raise field_error(
            f"body.{FILE_FIELD}",
            "has no file name: send it as a file, e.g. `-F file=@data.csv`",
            status_code=422,
        )
    return ReceivedUpload(target, collector.filename, collector.size, collector.fields)
