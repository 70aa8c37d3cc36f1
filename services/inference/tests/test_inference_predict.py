"""Prediction API tests against real Redis and S3, with Telco models."""

import json
import math

import numpy as np
import pytest
from inference_helpers import json_rows

from conftest import CLASSIFIER_ID, REGRESSOR_ID

PREDICT = f"/api/v1/models/{CLASSIFIER_ID}/predict"
UNKNOWN_ID = "0" * 24


def sklearn_frame(model, frame):
    features = frame[model.numeric + model.categorical].copy()
    features[model.numeric] = features[model.numeric].astype(np.float32)
    return features


async def test_predictions_match_sklearn_on_held_out_rows(api, owner_headers, telco):
    rows = json_rows(telco.held_out, telco)
    response = await api.post(PREDICT, json={"records": rows}, headers=owner_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["model_id"] == CLASSIFIER_ID
    assert len(body["predictions"]) == len(rows)
    expected = telco.pipeline.predict_proba(sklearn_frame(telco, telco.held_out))
    labels = telco.pipeline.predict(sklearn_frame(telco, telco.held_out))
    got = np.array(
        [
            [p["probabilities"]["No"], p["probabilities"]["Yes"]]
            for p in body["predictions"]
        ]
    )
    assert np.abs(got - expected).max() < 1e-5
    assert [p["prediction"] for p in body["predictions"]] == labels.tolist()


async def test_single_record_returns_one_prediction(api, owner_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    response = await api.post(PREDICT, json={"record": row}, headers=owner_headers)

    assert response.status_code == 200
    body = response.json()
    assert len(body["predictions"]) == 1
    probabilities = body["predictions"][0]["probabilities"]
    assert set(probabilities) == {"No", "Yes"}
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-5)
    assert body["latency_ms"] >= 0
    assert "warnings" not in body


async def test_regressor_matches_sklearn(api, owner_headers, telco_regressor):
    model = telco_regressor
    frame = model.held_out.head(200)
    response = await api.post(
        f"/api/v1/models/{REGRESSOR_ID}/predict",
        json={"records": json_rows(frame, model)},
        headers=owner_headers,
    )

    assert response.status_code == 200
    predictions = response.json()["predictions"]
    expected = model.pipeline.predict(sklearn_frame(model, frame))
    got = np.array([p["prediction"] for p in predictions])
    assert np.abs(got - expected).max() < 1e-3
    assert "probabilities" not in predictions[0]


async def test_missing_numeric_value_is_imputed(api, owner_headers, telco):
    frame = telco.held_out.head(1).copy()
    row = json_rows(frame, telco)[0]
    row["TotalCharges"] = None
    response = await api.post(PREDICT, json={"record": row}, headers=owner_headers)

    assert response.status_code == 200
    frame["TotalCharges"] = np.nan
    expected = telco.pipeline.predict_proba(sklearn_frame(telco, frame))[0]
    got = response.json()["predictions"][0]["probabilities"]
    assert abs(got["Yes"] - expected[1]) < 1e-5


async def test_other_user_gets_404(api, other_headers, owner_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    # Once before the owner loads the model, once while it is cached.
    first = await api.post(PREDICT, json={"record": row}, headers=other_headers)
    await api.post(PREDICT, json={"record": row}, headers=owner_headers)
    cached = await api.post(PREDICT, json={"record": row}, headers=other_headers)

    assert first.status_code == 404
    assert first.json()["error"] == "model_not_found"
    assert cached.status_code == 404
    assert cached.json()["error"] == "model_not_found"


async def test_unknown_model_gets_404(api, owner_headers):
    response = await api.post(
        f"/api/v1/models/{UNKNOWN_ID}/predict",
        json={"record": {"tenure": 1}},
        headers=owner_headers,
    )

    assert response.status_code == 404
    assert UNKNOWN_ID in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/models/%00/predict"),
        ("POST", "/api/v1/models/no-such-model/predict"),
        ("POST", "/api/v1/models/%00/predict/batch"),
        ("DELETE", "/api/v1/models/cache/%00"),
    ],
)
async def test_malformed_model_id_gets_422(api, owner_headers, method, path):
    response = await api.request(
        method, path, json={"record": {"tenure": 1}}, headers=owner_headers
    )

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "path.model_id"


async def test_request_without_internal_token_gets_401(api, telco):
    response = await api.post(
        PREDICT, json={"record": {}}, headers={"X-User-Id": "alice"}
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("change", "field", "phrase"),
    [
        ({"drop": "tenure"}, "record.tenure", "missing column"),
        ({"set": ("tenur", 5)}, "record.tenur", "unknown column"),
        ({"set": ("tenure", "twelve")}, "record.tenure", "expected a number"),
        ({"set": ("tenure", "12")}, "record.tenure", "expected a number"),
        ({"set": ("tenure", True)}, "record.tenure", "expected a number"),
        ({"set": ("MonthlyCharges", float("nan"))}, "record.MonthlyCharges", "finite"),
        ({"set": ("MonthlyCharges", float("inf"))}, "record.MonthlyCharges", "finite"),
        ({"set": ("TotalCharges", 1e39)}, "record.TotalCharges", "finite"),
        ({"set": ("tenure", 10**400)}, "record.tenure", "integer of about 401"),
        ({"set": ("tenure", -(10**40))}, "record.tenure", "finite"),
        ({"set": ("Contract", ["One year"])}, "record.Contract", "expected a category"),
        ({"set": ("Contract", {"a": 1})}, "record.Contract", "expected a category"),
    ],
)
async def test_invalid_record_names_column(
    api, owner_headers, telco, change, field, phrase
):
    row = json_rows(telco.held_out.head(1), telco)[0]
    if "drop" in change:
        del row[change["drop"]]
    else:
        name, value = change["set"]
        row[name] = value
    # json= cannot send NaN or Infinity, which Python's json module does write.
    import json

    response = await api.post(
        PREDICT,
        content=json.dumps({"record": row}),
        headers={**owner_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert [f["field"] for f in body["fields"]] == [field]
    assert phrase in body["fields"][0]["message"]


async def test_huge_integer_in_list_names_row(api, owner_headers, telco):
    rows = json_rows(telco.held_out.head(3), telco)
    rows[2]["MonthlyCharges"] = 10**400
    response = await api.post(PREDICT, json={"records": rows}, headers=owner_headers)

    assert response.status_code == 422
    fields = [f["field"] for f in response.json()["fields"]]
    assert fields == ["records[2].MonthlyCharges"]


async def test_invalid_row_in_list_names_its_index(api, owner_headers, telco):
    rows = json_rows(telco.held_out.head(5), telco)
    rows[3]["SeniorCitizen"] = "yes"
    response = await api.post(PREDICT, json={"records": rows}, headers=owner_headers)

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "records[3].SeniorCitizen"


async def test_unseen_category_is_reported_as_warning(api, owner_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    row["Contract"] = "Ten year"
    response = await api.post(PREDICT, json={"record": row}, headers=owner_headers)

    assert response.status_code == 200
    warnings = response.json()["warnings"]
    assert len(warnings) == 1
    assert warnings[0].startswith("record.Contract: unseen category 'Ten year'")


async def test_numbers_in_categorical_columns_are_stringified(
    api, owner_headers, telco
):
    row = json_rows(telco.held_out.head(1), telco)[0]
    row["gender"] = 1
    response = await api.post(PREDICT, json={"record": row}, headers=owner_headers)

    assert response.status_code == 200
    assert "record.gender: unseen category '1'" in response.json()["warnings"][0]


async def test_target_column_is_ignored_with_warning(api, owner_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    row["Churn"] = "Yes"
    response = await api.post(PREDICT, json={"record": row}, headers=owner_headers)

    assert response.status_code == 200
    assert "target column" in response.json()["warnings"][0]


async def test_body_with_both_record_and_records_is_rejected(api, owner_headers):
    response = await api.post(
        PREDICT, json={"record": {}, "records": [{}]}, headers=owner_headers
    )

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body"


async def test_empty_records_list_is_rejected(api, owner_headers):
    response = await api.post(PREDICT, json={"records": []}, headers=owner_headers)

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body.records"


async def test_cache_status_lists_own_models_only(
    api, owner_headers, other_headers, telco
):
    row = json_rows(telco.held_out.head(1), telco)[0]
    await api.post(PREDICT, json={"record": row}, headers=owner_headers)
    mine = await api.get("/api/v1/models/cache/status", headers=owner_headers)
    theirs = await api.get("/api/v1/models/cache/status", headers=other_headers)

    assert mine.status_code == 200
    assert theirs.status_code == 200
    entry = next(e for e in mine.json()["entries"] if e["model_id"] == CLASSIFIER_ID)
    assert entry["bytes"] == telco.metadata["artifact"]["bytes"]
    assert entry["load_ms"] > 0
    assert theirs.json()["entries"] == []
    assert theirs.json()["total_entries"] == 0
    assert theirs.json()["total_bytes"] == 0
    assert theirs.json()["misses"] is None
    assert mine.json()["total_entries"] == len(mine.json()["entries"])


async def test_cache_status_admin_sees_all_totals(api, infra, owner_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    await api.post(PREDICT, json={"record": row}, headers=owner_headers)
    admin = {
        "X-Internal-Token": infra.config.internal_token,
        "X-User-Id": "operator",
        "X-User-Role": "admin",
    }
    response = await api.get("/api/v1/models/cache/status", headers=admin)

    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "all"
    assert body["entries"] == []
    assert body["total_entries"] == len(api.app.state.cache)
    assert body["misses"] >= 1


async def test_evict_route_removes_own_model(api, owner_headers, other_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    await api.post(PREDICT, json={"record": row}, headers=owner_headers)
    path = f"/api/v1/models/cache/{CLASSIFIER_ID}"

    denied = await api.delete(path, headers=other_headers)
    evicted = await api.delete(path, headers=owner_headers)
    again = await api.post(PREDICT, json={"record": row}, headers=owner_headers)

    assert denied.status_code == 404
    assert evicted.status_code == 204
    assert CLASSIFIER_ID in api.app.state.cache
    assert again.status_code == 200


async def test_prediction_records_use_in_redis(api, owner_headers, telco, infra):
    import redis.asyncio as redis

    row = json_rows(telco.held_out.head(1), telco)[0]
    await api.post(PREDICT, json={"record": row}, headers=owner_headers)
    await api.app.state.recent.wait_for_writes()
    client = redis.Redis.from_url(infra.env["REDIS_URL"])
    try:
        score = await client.zscore("inference:recent-models", CLASSIFIER_ID)
        owner = await client.hget("inference:model-owners", CLASSIFIER_ID)
    finally:
        await client.aclose()

    assert score is not None
    assert owner == b"alice"


async def test_oversized_predict_body_gets_413(api, owner_headers, telco):
    settings = api.app.state.settings
    row = json_rows(telco.held_out.head(1), telco)[0]
    # About 12 MB in 6,000 rows: above the 10 MB default limit, and below
    # the 10,000-row limit, which would also answer 413.
    body = {"records": [row | {"padding": "x" * 2000}] * 6000}
    assert settings.predict_max_body_bytes == 10 * 1024 * 1024
    response = await api.post(PREDICT, json=body, headers=owner_headers)

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "INFERENCE_PREDICT_MAX_BODY_BYTES" in response.json()["message"]


async def test_chunked_predict_body_over_limit_gets_413(api, owner_headers, telco):
    row = json_rows(telco.held_out.head(1), telco)[0]
    data = json.dumps({"records": [row | {"padding": "x" * 2000}] * 6000}).encode()

    async def chunks():
        for start in range(0, len(data), 1024 * 1024):
            yield data[start : start + 1024 * 1024]

    response = await api.post(
        PREDICT,
        content=chunks(),
        headers={**owner_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
