"""The training pipeline on the real datasets with their natural targets."""

import numpy as np
import pandas as pd
import pytest
from training_datasets import column_types, load

from narrative_training.pipeline.errors import TrainingInputError
from narrative_training.pipeline.export import check_parity, onnx_feeds, to_onnx
from narrative_training.pipeline.targets import detect_problem_type
from narrative_training.pipeline.train import TrainingRequest, train


def no_progress(stage: str, fraction: float) -> None:
    pass


def run(frame, target, model_type="auto", **kwargs):
    request = TrainingRequest(
        target=target,
        column_types=column_types(frame),
        model_type=model_type,
        **kwargs,
    )
    return train(frame, request, no_progress)


def export_and_check(outcome):
    onnx_bytes = to_onnx(outcome.pipeline, outcome.plan.features, "test")
    return check_parity(
        onnx_bytes,
        outcome.pipeline,
        outcome.x_test,
        outcome.plan.features,
        outcome.problem_type == "classification",
    )


def warned_columns(outcome, kind):
    return {w["column"] for w in outcome.warnings if w["kind"] == kind}


def test_telco_churn_random_forest_beats_auc_080():
    outcome = run(load("telco-customer-churn"), "Churn", "random_forest")
    assert outcome.problem_type == "classification"
    assert outcome.metrics["roc_auc"]["test"] > 0.80
    assert outcome.baseline_metrics["roc_auc"] == 0.5
    assert outcome.metrics["accuracy"]["test"] > outcome.baseline_metrics["accuracy"]
    assert "customerID" in warned_columns(outcome, "identifier")
    parity = export_and_check(outcome)
    assert parity["passed"]
    assert parity["max_abs_probability_diff"] < 1e-4


def test_titanic_auto_accuracy_above_078():
    outcome = run(load("titanic"), "Survived")
    assert outcome.problem_type == "classification"
    assert outcome.metrics["accuracy"]["test"] > 0.78
    assert len(outcome.leaderboard) == 3
    assert outcome.leaderboard[0]["model_type"] == outcome.model_type
    scores = [row["score"] for row in outcome.leaderboard]
    assert scores == sorted(scores, reverse=True)
    assert {"PassengerId", "Name"} <= warned_columns(outcome, "identifier")
    assert export_and_check(outcome)["passed"]


def test_house_prices_regression_r2_above_080():
    outcome = run(load("house-prices"), "SalePrice", "gradient_boosting")
    assert outcome.problem_type == "regression"
    assert outcome.metrics["r2"]["test"] > 0.80
    assert outcome.baseline_metrics["r2"] < 0.01
    assert outcome.metrics["rmse"]["test"] < outcome.baseline_metrics["rmse"]
    assert "Id" in warned_columns(outcome, "identifier")
    parity = export_and_check(outcome)
    assert parity["passed"]
    assert parity["max_relative_prediction_diff"] < 1e-4


def test_house_prices_linear_regression_exports_with_scaler():
    outcome = run(load("house-prices"), "SalePrice", "linear_regression")
    assert (
        "scale"
        in outcome.pipeline.named_steps["prepare"]
        .named_transformers_["numeric"]
        .named_steps
    )
    assert outcome.metrics["r2"]["test"] > 0.6
    assert export_and_check(outcome)["passed"]


def test_bank_marketing_slice_beats_baseline():
    outcome = run(load("bank-marketing", rows=6000), "subscribe", "gradient_boosting")
    assert outcome.problem_type == "classification"
    assert outcome.metrics["roc_auc"]["test"] > 0.85
    assert outcome.metrics["f1"]["test"] > outcome.baseline_metrics["f1"]
    assert export_and_check(outcome)["passed"]


def test_titanic_neural_network_and_logistic_parity():
    frame = load("titanic")
    for model_type in ("neural_network", "logistic_regression"):
        outcome = run(frame, "Survived", model_type)
        assert outcome.model_type == model_type
        assert export_and_check(outcome)["passed"], model_type
        assert outcome.feature_importances[0]["importance"] > 0


def test_onnx_inputs_have_one_typed_input_per_column():
    import onnx

    outcome = run(load("titanic"), "Survived", "random_forest")
    model = onnx.load_from_string(to_onnx(outcome.pipeline, outcome.plan.features, "t"))
    types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    for feature in outcome.plan.features:
        expected = (
            onnx.TensorProto.FLOAT
            if feature.kind == "numeric"
            else (onnx.TensorProto.STRING)
        )
        assert types[feature.input_name] == expected
    assert len(types) == len(outcome.plan.features)


def test_multiclass_target_uses_macro_metrics():
    frame = load("titanic")
    outcome = run(frame, "Pclass", "random_forest")
    assert outcome.classes == ["1", "2", "3"]
    assert 0.5 < outcome.metrics["roc_auc"]["test"] <= 1.0
    assert export_and_check(outcome)["passed"]


@pytest.mark.parametrize(
    ("values", "column_type", "expected"),
    [
        ([0, 1] * 20, "numeric", "classification"),
        ([1, 2, 3, 4, 5] * 8, "numeric", "classification"),
        (list(range(40)), "numeric", "regression"),
        ([0.5, 1.5] * 20, "numeric", "regression"),
        (["yes", "no"] * 20, "categorical", "classification"),
        ([True, False] * 20, "boolean", "classification"),
    ],
)
def test_problem_type_detection(values, column_type, expected):
    assert detect_problem_type(pd.Series(values), column_type) == expected


def test_target_with_missing_values_rejected():
    frame = load("titanic")
    with pytest.raises(TrainingInputError, match="no value on 177 of 891 rows"):
        run(frame, "Age", "random_forest", problem_type="regression")


def test_single_class_target_rejected():
    frame = load("titanic").assign(Constant="same")
    with pytest.raises(TrainingInputError, match="single class"):
        run(frame, "Constant", "random_forest")


def test_rare_class_rejected_with_counts():
    frame = load("titanic")
    frame["Rare"] = np.where(np.arange(len(frame)) < 3, "rare", "common")
    with pytest.raises(TrainingInputError, match=r"'rare' \(3\)"):
        run(frame, "Rare", "random_forest")


def test_model_type_must_fit_problem():
    with pytest.raises(TrainingInputError, match="does not fit a regression"):
        run(load("house-prices"), "SalePrice", "logistic_regression")


def test_copy_of_target_flagged_as_leakage_and_left_out():
    frame = load("telco-customer-churn", rows=2500)
    frame["churn copy"] = frame["Churn"].map({"Yes": "left", "No": "stayed"})
    outcome = run(frame, "Churn", "logistic_regression")
    assert "churn copy" in warned_columns(outcome, "leakage")
    assert "churn copy" not in {f.name for f in outcome.plan.features}
    assert outcome.metrics["roc_auc"]["test"] < 0.95


def test_leaking_column_kept_when_included():
    frame = load("house-prices", rows=800)
    frame["price.$ copy"] = frame["SalePrice"] * 2 + 1
    outcome = run(
        frame, "SalePrice", "linear_regression", include_columns=["price.$ copy"]
    )
    assert "price.$ copy" in warned_columns(outcome, "leakage")
    assert "price.$ copy" in {f.name for f in outcome.plan.features}


def test_identifier_kept_when_included():
    outcome = run(
        load("titanic"), "Survived", "random_forest", include_columns=["PassengerId"]
    )
    assert "PassengerId" in {f.name for f in outcome.plan.features}
    warning = [w for w in outcome.warnings if w["column"] == "PassengerId"][0]
    assert "kept" in warning["message"]


def test_high_cardinality_categories_left_out():
    outcome = run(load("titanic"), "Survived", "random_forest")

    kept = {f.name for f in outcome.plan.features}
    assert "Ticket" not in kept
    assert "Cabin" not in kept
    assert {"Sex", "Embarked"} <= kept
    flagged = {w["column"] for w in outcome.warnings if w["kind"] == "high_cardinality"}
    assert flagged == {"Ticket", "Cabin"}
    assert outcome.metrics["accuracy"]["test"] > 0.78


def test_high_cardinality_column_kept_when_included():
    outcome = run(
        load("titanic"), "Survived", "random_forest", include_columns=["Cabin"]
    )

    assert "Cabin" in {f.name for f in outcome.plan.features}
    assert "Ticket" not in {f.name for f in outcome.plan.features}


def test_unicode_column_names_become_safe_onnx_inputs():
    frame = load("titanic")
    frame = frame.rename(columns={"Sex": "sexe é.$", "Fare": "fare (£)"})
    outcome = run(frame, "Survived", "random_forest")
    names = {f.input_name for f in outcome.plan.features}
    assert all(name.replace("_", "").isalnum() for name in names)
    feeds = onnx_feeds(outcome.x_test, outcome.plan.features)
    assert set(feeds) == names
    assert export_and_check(outcome)["passed"]
