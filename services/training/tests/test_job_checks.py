"""Submission-time target checks on the statistics of real datasets."""

import pytest
from training_datasets import dataset_metadata, load

from narrative_common.errors import AppError
from narrative_training.jobs.checks import check_target_statistics, reject_if_unfit
from narrative_training.jobs.schemas import JobCreate

DATASET_ID = "6b12f5ce2201f7436d5d09ed"


@pytest.fixture(scope="module")
def titanic():
    frame = load("titanic")
    frame["Constant"] = 1
    return frame


def job(target: str, **extra) -> JobCreate:
    return JobCreate(dataset_id=DATASET_ID, target=target, **extra)


def rejected_field(request: JobCreate, metadata: dict) -> str:
    with pytest.raises(AppError) as caught:
        check_target_statistics(request, metadata)
    assert caught.value.status_code == 422
    return caught.value.fields[0].field


@pytest.mark.parametrize(
    ("target", "extra", "field", "words"),
    [
        ("Age", {"problem_type": "regression"}, "body.target", "no value on 177"),
        ("Constant", {}, "body.target", "same value on every row"),
        ("Fare", {"problem_type": "classification"}, "body.problem_type",
         "at most 50 classes"),
        ("Fare", {"model_type": "logistic_regression"}, "body.model_type",
         "predicted by regression"),
        ("Pclass", {"model_type": "linear_regression"}, "body.model_type",
         "predicted by classification"),
    ],
)  # fmt: skip
def test_titanic_target_rejected(titanic, target, extra, field, words):
    with pytest.raises(AppError) as caught:
        check_target_statistics(job(target, **extra), dataset_metadata(titanic))
    assert caught.value.status_code == 422
    assert caught.value.fields[0].field == field
    assert words in caught.value.fields[0].message


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        ("Survived", {}),
        ("Pclass", {"model_type": "logistic_regression"}),
        ("Fare", {"problem_type": "regression"}),
        ("Sex", {"model_type": "random_forest"}),
    ],
)
def test_titanic_target_accepted(titanic, target, extra):
    check_target_statistics(job(target, **extra), dataset_metadata(titanic))


def test_under_30_rows_rejected(titanic):
    metadata = dataset_metadata(titanic.head(20))
    assert rejected_field(job("Survived"), metadata) == "body.dataset_id"


def test_too_few_rows_per_class_rejected(titanic):
    frame = titanic.head(100).copy()
    frame["Decile"] = [f"d{i % 20}" for i in range(len(frame))]
    assert rejected_field(job("Decile"), dataset_metadata(frame)) == "body.target"


def test_float_target_with_few_values_left_to_worker():
    # 1.0 and 2.5 cannot be told from integers by the dtype alone.
    metadata = {
        "rows": 100,
        "columns": [
            {"name": "y", "type": "numeric", "dtype": "float64", "missing": 0,
             "distinct": 3},
        ],
    }  # fmt: skip
    check_target_statistics(job("y", model_type="linear_regression"), metadata)


def test_metadata_without_statistics_passes():
    metadata = {"columns": [{"name": "y", "type": "numeric"}]}
    check_target_statistics(job("y", model_type="logistic_regression"), metadata)
    reject_if_unfit(job("y"), {"rows": 100, "columns": ["y"]})
