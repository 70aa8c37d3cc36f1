"""Encoding detection and transcoding of uploaded text files.

Files are read in chunks, so a file of any size costs one chunk of memory.
UTF-8 (with or without a byte order mark) is used as is. Any other file is
read as Windows-1252, the usual encoding of spreadsheets exported on
Windows. It matches Latin-1 on printable characters, and the five bytes it
leaves undefined are read as their Latin-1 code points. UTF-16 with a byte
order mark (what Excel writes as "Unicode text") is transcoded to UTF-8;
UTF-16 without one is rejected, because telling it apart from binary data
is guesswork.
"""

import codecs
from pathlib import Path

from narrative_datasets.ingest.errors import InvalidFileError

CHUNK_BYTES = 1 << 20
SNIFF_BYTES = 64 * 1024
UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
UTF16 = "utf-16"
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


def detect_utf16(path: Path, filename: str) -> bool:
    """Return True for UTF-16 with a byte order mark; reject UTF-16 without one.

    Text without a BOM counts as UTF-16 when most of its first bytes at even
    (or odd) offsets are NUL, as ASCII characters are in UTF-16.
    """
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    pairs = len(head) // 2
    if pairs >= 2:
        even_nuls = head[0 : pairs * 2 : 2].count(0)
        odd_nuls = head[1 : pairs * 2 : 2].count(0)
        if max(even_nuls, odd_nuls) > 0.5 * pairs and min(even_nuls, odd_nuls) == 0:
            raise InvalidFileError(
                "unsupported_encoding",
                f"File {filename!r} looks like UTF-16 text without a byte order "
                "mark, which is not supported. Save it as CSV UTF-8 (or as UTF-16 "
                "with a byte order mark) and upload it again.",
            )
    return False


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


def transcode_to_utf8(
    source: Path, target: Path, encoding: str, errors: str = "narrative_latin1_fallback"
) -> None:
    """Write `source`, read in `encoding`, to `target` as UTF-8 without a BOM.

    With `errors="strict"`, invalid input raises UnicodeDecodeError.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK_BYTES):
            writer.write(decoder.decode(chunk).encode(UTF8))
        writer.write(decoder.decode(b"", final=True).encode(UTF8))
