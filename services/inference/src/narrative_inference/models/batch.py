"""Batch prediction of a CSV file, chunk by chunk, into an output CSV file.

Every input column is read as text and written back unchanged, except that
a text cell starting like a spreadsheet formula gets a leading ' (see
neutralize_formulas), followed by
`prediction` and, for classifiers, one `probability_<label>` column per class.
Columns the model does not use (ids, the target) pass through unchanged.
An empty field, or one of only spaces in a numeric column, is a missing value: NaN for numeric columns, which the model's
imputer fills as in training, and the empty string for categorical ones.
Any field of a numeric column that is not a finite number rejects the whole
file with 422 naming its line and column, before any output is returned.

The delimiter (comma, semicolon, tab or pipe) is detected from the first
lines; the output is always comma-delimited. Line numbers count the header
as line 1 and assume no field spans lines.
"""

import csv
import io
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from narrative_common.errors import FieldError
from narrative_inference.models.errors import InputValidationError
from narrative_inference.models.onnx_model import LoadedModel
from narrative_inference.models.validation import MAX_REPORTED_ERRORS

READ_BLOCK_BYTES = 4 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
# Delimiter detection reads at most this many bytes and lines after the header.
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 50
PREDICTION_COLUMN = "prediction"
# Text cells starting like a spreadsheet formula, and the numbers among them.
FORMULA_START = r"^[=+\-@\t\r]"
NUMBER_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
PROBABILITY_PREFIX = "probability_"


@dataclass
class BatchResult:
    rows: int = 0
    # Rows with a category the model never saw, by column.
    unseen_categories: Counter[str] = field(default_factory=Counter)


def detect_delimiter(source: BinaryIO) -> str:
    """Return the delimiter of the file: comma, semicolon, tab or pipe.

    Each candidate splits the header line and up to SNIFF_LINES following
    lines with CSV quoting rules. A candidate that splits the header into at
    least two fields scores by how many lines have the header's field count,
    then by that count. A file that no candidate splits is read with commas.
    """
    sample = source.read(SNIFF_BYTES)
    source.seek(0)
    lines = sample.decode("utf-8-sig", errors="replace").splitlines()
    if len(sample) == SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # the sample probably cut the last line short
    lines = lines[: SNIFF_LINES + 1]
    if not lines:
        return ","
    best, best_score = ",", (-1, 0)
    for delimiter in DELIMITERS:
        width = _field_count(lines[0], delimiter)
        if width < 2:
            continue
        matching = sum(
            1 for line in lines[1:] if _field_count(line, delimiter) == width
        )
        if (matching, width) > best_score:
            best, best_score = delimiter, (matching, width)
    return best


def _field_count(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter), []))


def read_header(source: BinaryIO, delimiter: str = ",") -> list[str]:
    """Return the CSV's column names, read from its first line."""
    first_line = source.readline()
    source.seek(0)
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            "file", "the file is not UTF-8 text; save it as UTF-8 CSV."
        ) from exc
    names = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    if not names or names == [""]:
        raise _file_error("file", "the file is empty; upload a CSV with a header line.")
    return names


def check_header(model: LoadedModel, names: list[str]) -> None:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(
                FieldError(
                    field=f"line 1, column {name}",
                    message="duplicate column name; give each column its own name.",
                )
            )
        seen.add(name)
    for column in model.metadata.input_schema:
        if column.name not in seen:
            errors.append(
                FieldError(
                    field=f"line 1, column {column.name}",
                    message="missing column: the model needs it; add it to the "
                    "header (empty values are allowed).",
                )
            )
    if errors:
        raise _errors(errors)


def output_names(model: LoadedModel, input_names: list[str]) -> list[str]:
    """Name the appended columns, adding '_' while an input column has the name."""
    wanted = [PREDICTION_COLUMN]
    if model.metadata.problem_type == "classification":
        wanted += [PROBABILITY_PREFIX + label for label in model.class_labels]
    taken = set(input_names)
    names = []
    for name in wanted:
        while name in taken:
            name += "_"
        taken.add(name)
        names.append(name)
    return names


def predict_csv(
    model: LoadedModel,
    source: BinaryIO,
    output_path: Path,
    *,
    chunk_rows: int,
    max_rows: int,
    threads: int = 1,
) -> BatchResult:
    """Predict every row of `source` into a CSV at `output_path`, or raise 422.

    Up to `threads` chunks run through the model at once (onnxruntime
    releases the GIL), and their output is written in input order.
    """
    delimiter = detect_delimiter(source)
    names = read_header(source, delimiter)
    check_header(model, names)
    appended = output_names(model, names)

    def parse_error(exc: pa.ArrowInvalid) -> InputValidationError:
        return locate_parse_error(source, delimiter, len(names), exc)

    try:
        # open_csv parses the first block, so it raises for a bad early line.
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=READ_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise parse_error(exc) from exc
    known_values = {
        name: pa.array(sorted(values), pa.string())
        for name, values in model.validator.categories.items()
    }
    result = BatchResult()
    writer: pacsv.CSVWriter | None = None
    pending: deque[Future[tuple[pa.Table, Counter[str]]]] = deque()

    def write_oldest() -> None:
        nonlocal writer
        table, unseen = pending.popleft().result()
        result.unseen_categories.update(unseen)
        if writer is None:
            writer = pacsv.CSVWriter(str(output_path), table.schema)
        writer.write_table(table)

    read_rows = 0
    with ThreadPoolExecutor(max_workers=threads) as executor:
        try:
            for chunk in _chunks(reader, chunk_rows, parse_error):
                if read_rows + chunk.num_rows > max_rows:
                    raise _file_error(
                        "file",
                        f"the file has more than {max_rows} rows; split it into "
                        "smaller files.",
                    )
                pending.append(
                    executor.submit(
                        _predict_chunk,
                        model,
                        chunk,
                        appended,
                        known_values,
                        read_rows + 2,
                    )
                )
                read_rows += chunk.num_rows
                # Bound the chunks held in memory to a few per thread.
                while len(pending) > threads * 2:
                    write_oldest()
            while pending:
                write_oldest()
        finally:
            for future in pending:
                future.cancel()
            if writer is not None:
                writer.close()
    result.rows = read_rows
    if result.rows == 0:
        raise _file_error("file", "the file has a header but no rows; add rows.")
    return result


def _chunks(
    reader: pacsv.CSVStreamingReader,
    chunk_rows: int,
    parse_error: Callable[[pa.ArrowInvalid], InputValidationError],
) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            block = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise parse_error(exc) from exc
        for offset in range(0, block.num_rows, chunk_rows):
            yield block.slice(offset, chunk_rows)


def _predict_chunk(
    model: LoadedModel,
    chunk: pa.RecordBatch,
    appended: list[str],
    known_values: dict[str, pa.Array],
    first_line: int,
) -> tuple[pa.Table, Counter[str]]:
    errors: list[FieldError] = []
    unseen_counts: Counter[str] = Counter()
    feed: dict[str, np.ndarray] = {}
    for column in model.metadata.input_schema:
        values = chunk.column(column.name)
        if column.type == "numeric":
            feed[column.onnx_input] = _numeric(values, column.name, first_line, errors)
            continue
        # Categorical columns have few distinct values, so dictionary-encode
        # them: the object array then shares one str per distinct value
        # instead of creating one per row.
        encoded = values.fill_null("").dictionary_encode()
        distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        known = known_values.get(column.name)
        if known is not None:
            unseen = np.asarray(
                pc.invert(
                    pc.or_(
                        pc.is_in(encoded.dictionary, value_set=known),
                        pc.equal(encoded.dictionary, ""),
                    )
                )
            )
            if unseen.any():
                count = int(np.isin(indices, np.flatnonzero(unseen)).sum())
                unseen_counts[column.name] += count
        feed[column.onnx_input] = distinct[indices].reshape(-1, 1)
    if errors:
        raise _errors(errors)
    outputs = model.run(feed)
    columns = [neutralize_formulas(values) for values in chunk.columns]
    labels = pa.array(outputs.labels)
    if pa.types.is_string(labels.type):
        labels = neutralize_formulas(labels)
    columns.append(labels)
    if outputs.probabilities is not None:
        probabilities = outputs.probabilities
        columns.extend(pa.array(probabilities[:, i]) for i in range(len(appended) - 1))
    names = [neutralize_formula_text(name) for name in chunk.schema.names]
    table = pa.Table.from_arrays(columns, names=[*names, *appended])
    return table, unseen_counts


def neutralize_formulas(values: pa.Array) -> pa.Array:
    """Prefix with ' every text cell that a spreadsheet would run as a formula.

    The output CSV is meant for spreadsheets, which evaluate a cell starting
    with =, +, -, @, tab or carriage return. Numbers such as -3 or +1.5e3 are
    kept as they are, following the OWASP advice on CSV injection.
    """
    risky = pc.and_(
        pc.match_substring_regex(values, FORMULA_START),
        pc.invert(pc.match_substring_regex(values, NUMBER_TEXT)),
    )
    risky = pc.fill_null(risky, False)
    if not pc.any(risky).as_py():
        return values
    quoted = pc.binary_join_element_wise("'", values, "")
    return pc.if_else(risky, quoted, values)


def neutralize_formula_text(text: str) -> str:
    """Apply neutralize_formulas to one string, such as a column name."""
    return neutralize_formulas(pa.array([text], pa.string()))[0].as_py()


def _numeric(
    values: pa.Array, name: str, first_line: int, errors: list[FieldError]
) -> np.ndarray:
    # A field of only spaces counts as empty, i.e. missing.
    trimmed = pc.utf8_trim_whitespace(values)
    blank = pc.fill_null(pc.equal(trimmed, ""), False)
    trimmed = pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)
    try:
        numbers = pc.cast(trimmed, pa.float32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        _report_unparsable(trimmed, name, first_line, errors)
        return np.empty((0, 1), dtype=np.float32)
    array = numbers.to_numpy(zero_copy_only=False)
    missing = trimmed.is_null().to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(array) & ~missing
    for index in np.flatnonzero(bad)[:MAX_REPORTED_ERRORS]:
        errors.append(
            FieldError(
                field=f"line {first_line + int(index)}, column {name}",
                message=f"{trimmed[int(index)].as_py()!r} is not a finite float32 "
                "number; leave the field empty for a missing value.",
            )
        )
    return array.reshape(-1, 1)


def _report_unparsable(
    values: pa.Array, name: str, first_line: int, errors: list[FieldError]
) -> None:
    for index, value in enumerate(values.to_pylist()):
        if value is None:
            continue
        try:
            pc.cast(pa.array([value], pa.string()), pa.float32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            shown = value if len(value) <= 40 else value[:40] + "..."
            errors.append(
                FieldError(
                    field=f"line {first_line + index}, column {name}",
                    message=f"{shown!r} is not a number; fix the value or leave "
                    "the field empty for a missing value.",
                )
            )
            if len(errors) >= MAX_REPORTED_ERRORS:
                return


def locate_parse_error(
    source: BinaryIO, delimiter: str, width: int, exc: pa.ArrowInvalid
) -> InputValidationError:
    """Find the first line that pyarrow could not parse and name it in a 422.

    pyarrow's streaming reader does not report line numbers, so the file is
    read again line by line up to the first line with an unclosed quote or
    a field count other than the header's.
    """
    source.seek(0)
    for number, raw in enumerate(source, start=1):
        if number == 1:
            continue
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            continue  # pyarrow skips empty lines
        try:
            fields = next(csv.reader([line], delimiter=delimiter, strict=True))
        except csv.Error as parse_exc:
            if "end of data" in str(parse_exc):
                return _file_error(
                    f"line {number}",
                    "a quoted field is not closed on this line; close the quote. "
                    "Fields cannot span lines.",
                )
            fields = next(csv.reader([line], delimiter=delimiter))
        if len(fields) != width:
            return _file_error(
                f"line {number}",
                f"the line has {len(fields)} fields and the header has {width}; "
                "give every line one field per header column (quote fields that "
                f"contain {_delimiter_name(delimiter)}).",
            )
    return _file_error("file", _csv_message(exc))


def _delimiter_name(delimiter: str) -> str:
    return {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a pipe"}[delimiter]


def _csv_message(exc: pa.ArrowInvalid) -> str:
    return (
        f"the CSV cannot be parsed ({str(exc)[:200]}); check quoting and the "
        "number of fields per line."
    )


def _file_error(location: str, message: str) -> InputValidationError:
    return _errors([FieldError(field=location, message=message)])


def _errors(errors: list[FieldError]) -> InputValidationError:
    shown = errors[:MAX_REPORTED_ERRORS]
    summary = "; ".join(f"{error.field}: {error.message}" for error in shown[:3])
    more = f" ({len(errors)} problems in all)" if len(errors) > 3 else ""
    return InputValidationError(f"Invalid CSV file{more}. {summary}", fields=shown)
