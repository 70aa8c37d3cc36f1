"""Check JSON rows against a model's input schema and turn them into ONNX inputs.

Rules, applied per row and column:
- a column of the schema missing from a row, or a column the schema does not
  have, is rejected. The model's target column is ignored with a warning,
  because rows are often copied from the training file;
- numeric columns take JSON numbers; null means missing and reaches the
  model as NaN, which the model's imputer fills as it did in training;
  strings, booleans, NaN, Infinity and values beyond float32 are rejected;
- categorical columns take strings; null means missing and reaches the model
  as the empty string, the missing marker used in training; numbers are
  turned into strings (integers and integral floats as `12`, other floats as
  Python's repr, booleans as `True`/`False`), so a category stored as "1"
  accepts 1; lists and objects are rejected;
- a category the model never saw is accepted, because the encoder ignores it
  (all its indicator columns are 0), and listed in `warnings`.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from narrative_common.errors import FieldError
from narrative_inference.models.errors import InputValidationError
from narrative_inference.models.schemas import InputColumn, ModelMetadata

FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_REPORTED_ERRORS = 20
MAX_REPORTED_WARNINGS = 50
_MISSING = object()

# Names the row and column of a problem, e.g. "records[3].tenure".
Locator = Callable[[int, str], str]


def locate_record(_index: int, column: str) -> str:
    return f"record.{column}"


def locate_records(index: int, column: str) -> str:
    return f"records[{index}].{column}"


def category_text(value: Any) -> str | None:
    """Return a categorical value as the string the model was trained on.

    Returns None for values that cannot be a category (lists, objects, NaN).
    """
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return None


class RecordValidator:
    def __init__(self, metadata: ModelMetadata) -> None:
        self.columns: list[InputColumn] = metadata.input_schema
        self.names = frozenset(column.name for column in self.columns)
        self.target = metadata.target
        self.categories = {
            column.name: frozenset(column.categories)
            for column in self.columns
            if column.type == "categorical" and column.categories is not None
        }

    def feed(
        self, rows: list[dict[str, Any]], locate: Locator
    ) -> tuple[dict[str, np.ndarray], list[str]]:
        """Validate rows and return the ONNX feed plus warnings, or raise 422."""
        if len(rows) == 1:
            fast = self._feed_one(rows[0])
            if fast is not None:
                return fast, []
        errors: list[FieldError] = []
        warnings: list[str] = []
        names = self.names
        for index, row in enumerate(rows):
            if row.keys() == names:
                continue
            for column in row.keys() - names:
                if column == self.target:
                    if len(warnings) < MAX_REPORTED_WARNINGS:
                        warnings.append(
                            f"{locate(index, column)}: the model's target column "
                            "is ignored."
                        )
                    continue
                errors.append(
                    FieldError(
                        field=locate(index, column),
                        message="unknown column: the model has no input of this "
                        "name; remove it or check its spelling.",
                    )
                )
            for column in names - row.keys():
                errors.append(
                    FieldError(
                        field=locate(index, column),
                        message="missing column: send a value, or null when it "
                        "is unknown.",
                    )
                )
        if errors:
            raise _validation_error(errors)
        feed: dict[str, np.ndarray] = {}
        for column in self.columns:
            name = column.name
            values = [row[name] for row in rows]
            if column.type == "numeric":
                feed[column.onnx_input] = self._numeric(values, name, locate, errors)
            else:
                feed[column.onnx_input] = self._categorical(
                    values, name, locate, errors, warnings
                )
        if errors:
            raise _validation_error(errors)
        return feed, warnings

    def _feed_one(self, row: dict[str, Any]) -> dict[str, np.ndarray] | None:
        """Build the feed of one valid row without warnings, else return None.

        The general path then reports the row's errors and warnings; this one
        only saves time on the common single-row request.
        """
        if row.keys() != self.names:
            return None
        feed: dict[str, np.ndarray] = {}
        for column in self.columns:
            value = row[column.name]
            kind = type(value)
            if column.type == "numeric":
                if kind is float or kind is int:
                    # False for NaN and infinity too. Compared before any float
                    # conversion, which raises OverflowError for a huge int.
                    if not abs(value) <= FLOAT32_MAX:
                        return None
                elif value is None:
                    value = math.nan
                else:
                    return None
                cell = np.empty((1, 1), dtype=np.float32)
            else:
                if kind is not str:
                    return None
                known = self.categories.get(column.name)
                if known is not None and value and value not in known:
                    return None
                cell = np.empty((1, 1), dtype=object)
            # Filling an empty array is about 3 times faster than np.array([[v]]).
            cell[0, 0] = value
            feed[column.onnx_input] = cell
        return feed

    def _numeric(
        self, values: list[Any], name: str, locate: Locator, errors: list[FieldError]
    ) -> np.ndarray:
        converted: list[float] = []
        for index, value in enumerate(values):
            kind = type(value)
            if kind is float or kind is int:
                if abs(value) <= FLOAT32_MAX:
                    converted.append(value)
                    continue
                message = (
                    f"{_shown_number(value)} is not a finite float32 number; send "
                    "a number, or null for a missing value."
                )
            elif value is None:
                converted.append(math.nan)
                continue
            else:
                message = (
                    f"expected a number, got {_describe(value)}; send a JSON "
                    "number, or null for a missing value."
                )
            errors.append(FieldError(field=locate(index, name), message=message))
        return np.array(converted, dtype=np.float32).reshape(-1, 1)

    def _categorical(
        self,
        values: list[Any],
        name: str,
        locate: Locator,
        errors: list[FieldError],
        warnings: list[str],
    ) -> np.ndarray:
        known = self.categories.get(name)
        converted: list[str] = []
        for index, value in enumerate(values):
            text = category_text(value)
            if text is None:
                errors.append(
                    FieldError(
                        field=locate(index, name),
                        message=f"expected a category, got {_describe(value)}; "
                        "send a string, or null for a missing value.",
                    )
                )
                continue
            if (
                known is not None
                and text
                and text not in known
                and len(warnings) < MAX_REPORTED_WARNINGS
            ):
                warnings.append(
                    f"{locate(index, name)}: unseen category {text!r}; the model "
                    "treats it as none of its known categories."
                )
            converted.append(text)
        return np.array(converted, dtype=object).reshape(-1, 1)


def _shown_number(value: float | int) -> str:
    """Return the value for a message, shortening integers of many digits."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"the string {shown!r}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _validation_error(errors: list[FieldError]) -> InputValidationError:
    shown = errors[:MAX_REPORTED_ERRORS]
    summary = "; ".join(f"{error.field}: {error.message}" for error in shown[:3])
    more = f" ({len(errors)} problems in all)" if len(errors) > 3 else ""
    return InputValidationError(f"Invalid input rows{more}. {summary}", fields=shown)
