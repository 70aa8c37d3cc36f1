"""Target checks at submission, from the dataset's column statistics.

The datasets service stores per column its type, dtype, missing count and
distinct count (nulls excluded), and the row count. Those settle most of the
target checks that the worker would otherwise run minutes later, so a job
that cannot succeed is rejected with a 422 naming the field. The worker
still runs every check on the data itself (pipeline/targets.py), because a
datasets service without these statistics skips the checks here.
"""

from narrative_common.errors import field_error
from narrative_common.logging import get_logger
from narrative_training.jobs.schemas import JobCreate
from narrative_training.pipeline.estimators import MODEL_TYPES, fits_problem
from narrative_training.pipeline.targets import (
    CLASSIFICATION,
    MAX_CLASSES,
    MAX_INTEGER_CLASSES,
    MIN_ROWS,
    MIN_ROWS_PER_CLASS,
    REGRESSION,
)

log = get_logger(__name__)


def check_target_statistics(request: JobCreate, dataset: dict) -> None:
    """Raise a 422 naming the field when the statistics rule the job out."""
    rows = dataset.get("rows")
    if isinstance(rows, int) and rows < MIN_ROWS:
        raise field_error(
            "body.dataset_id",
            f"dataset {request.dataset_id} has {rows} rows; training needs at "
            f"least {MIN_ROWS} for a test split and 5-fold cross-validation. "
            "Upload a larger dataset.",
        )
    column = _column(dataset, request.target)
    if column is None:
        return
    missing, distinct = column.get("missing"), column.get("distinct")
    if isinstance(missing, int) and missing > 0:
        shown_rows = f" of {rows}" if isinstance(rows, int) else ""
        raise field_error(
            "body.target",
            f"'{request.target}' has no value on {missing}{shown_rows} rows. Fill "
            "or remove those rows and upload the dataset again, or choose another "
            "target.",
        )
    if not isinstance(distinct, int):
        return
    if distinct < 2:
        raise field_error(
            "body.target",
            f"'{request.target}' has the same value on every row, so there is "
            "nothing to predict. Choose another target.",
        )
    problem_type = _problem_type(request, column)
    if problem_type is not None and not fits_problem(request.model_type, problem_type):
        raise field_error(
            "body.model_type",
            f"'{request.target}' is {column.get('type')} with {distinct} distinct "
            f"values, so it is predicted by {problem_type}, which "
            f"{request.model_type} does not do. Choose auto, "
            f"{', '.join(MODEL_TYPES[problem_type])}, or set problem_type.",
        )
    if problem_type == CLASSIFICATION:
        _check_classes(request, column, distinct, rows)


def _check_classes(
    request: JobCreate, column: dict, distinct: int, rows: int | None
) -> None:
    if distinct > MAX_CLASSES:
        numeric = column.get("type") == "numeric"
        field = "body.problem_type" if numeric else "body.target"
        advice = (
            "Use problem_type 'regression' or 'auto' for a quantity."
            if numeric
            else "Group the classes, or choose another target."
        )
        raise field_error(
            field,
            f"'{request.target}' has {distinct} distinct values; classification "
            f"supports at most {MAX_CLASSES} classes. {advice}",
        )
    if isinstance(rows, int) and rows < distinct * MIN_ROWS_PER_CLASS:
        # With fewer rows than this, at least one class has too few rows.
        raise field_error(
            "body.target",
            f"'{request.target}' has {distinct} classes over {rows} rows, so at "
            f"least one class has fewer than {MIN_ROWS_PER_CLASS} rows, the "
            "minimum for a 20% test split and 5-fold cross-validation. Merge "
            "rare classes or upload more rows.",
        )


def _column(dataset: dict, name: str) -> dict | None:
    for column in dataset.get("columns", []):
        if column.get("name") == name:
            return column
    return None


def _problem_type(request: JobCreate, column: dict) -> str | None:
    """Return the problem type the worker will resolve, or None if unsure.

    For `auto`, a numeric target with more than MAX_INTEGER_CLASSES distinct
    values is a regression, and one with fewer is a classification only when
    its values are integers, which only an int64 dtype settles here.
    """
    if request.problem_type != "auto":
        return request.problem_type
    if column.get("type") != "numeric":
        return CLASSIFICATION
    distinct = column["distinct"]
    if distinct > MAX_INTEGER_CLASSES:
        return REGRESSION
    if column.get("dtype") == "int64":
        return CLASSIFICATION
    return None


def reject_if_unfit(request: JobCreate, dataset: dict) -> None:
    """Run the statistics checks, skipping them when the metadata is malformed."""
    try:
        check_target_statistics(request, dataset)
    except (TypeError, KeyError, AttributeError) as exc:
        # The worker runs the same checks on the data, so this only delays
        # the rejection to the job's run.
        log.warning(
            "training.job.precheck_skipped",
            dataset_id=request.dataset_id,
            error=str(exc),
        )
