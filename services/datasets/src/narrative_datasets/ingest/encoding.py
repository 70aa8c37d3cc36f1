"""Encoding detection and transcoding of uploaded text files.

Files are read in chunks, so a file of any size costs one chunk of memory.
UTF-8 (with or without a byte order mark) is used as is. Any other file is
read as Windows-1252, the usual encoding of spreadsheets exported on
Windows. It matches Latin-1 on printable characters, and the five bytes it
leaves undefined are read as their Latin-1 code points.
"""

import codecs
from pathlib import Path

from narrative_datasets.ingest.errors import InvalidFileError

CHUNK_BYTES = 1 << 20
SNIFF_BYTES = 64 * 1024
UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
CP1252 = "cp1252"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
# Control bytes that never appear in a text table (tab, CR, LF and form feed do).
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13})


def _latin1_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    undecodable = error.object[error.start : error.end]
    return undecodable.decode("latin-1"), error.end


codecs.register_error("narrative_latin1_fallback", _latin1_fallback)


def reject_binary(path: Path, filename: str) -> None:
    """Raise InvalidFileError when the file's first bytes are not text."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC):
        raise InvalidFileError(
            "binary_file",
            f"File {filename!r} is a spreadsheet or archive, not CSV text. "
            "Upload it with the .xlsx extension, or export it as CSV.",
        )
    if b"\x00" in head or _control_share(head) > 0.01:
        raise InvalidFileError(
            "binary_file",
            f"File {filename!r} contains binary data, not CSV text. Upload a "
            "CSV file (comma, semicolon, tab or pipe separated) or an XLSX file.",
        )


def _control_share(data: bytes) -> float:
    if not data:
        return 0.0
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    return controls / len(data)


def detect_encoding(path: Path) -> str:
    """Return "utf-8-sig", "utf-8" or "cp1252", validating UTF-8 over the whole file."""
    decoder = codecs.getincrementaldecoder(UTF8)()
    with path.open("rb") as handle:
        first = handle.read(CHUNK_BYTES)
        has_bom = first.startswith(codecs.BOM_UTF8)
        chunk = first
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = handle.read(CHUNK_BYTES)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return CP1252
    return UTF8_BOM if has_bom else UTF8


def transcode_to_utf8(source: Path, target: Path, encoding: str) -> None:
    """Write `source`, read in `encoding`, to `target` as UTF-8 without a BOM."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="narrative_latin1_fallback")
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK_BYTES):
            writer.write(decoder.decode(chunk).encode(UTF8))
        writer.write(decoder.decode(b"", final=True).encode(UTF8))
