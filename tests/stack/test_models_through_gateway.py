"""Training and prediction through Traefik on the real datasets."""

import asyncio
import csv
import io
import json
import time

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from .conftest import SHARED_DATASETS, requires_shared_datasets, s3_keys

pytestmark = requires_shared_datasets

TELCO = SHARED_DATASETS / "telco-customer-churn.csv"

# file, target, options, metric, lower bound on the held-out value
NATURAL_TARGETS = [
    ("titanic.csv", "Survived", {}, "accuracy", 0.78),
    ("telco-customer-churn.csv", "Churn", {}, "roc_auc", 0.80),
    (
        "house-prices.csv",
        "SalePrice",
        {"problem_type": "regression"},
        "r2",
        0.80,
    ),
    (
        "bank-marketing.csv",
        "subscribe",
        {"model_type": "random_forest"},
        "roc_auc",
        0.85,
    ),
]


def read_rows(path, count: int, skip: int = 0) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return rows[skip : skip + count]


def as_record(row: dict[str, str], schema: list[dict]) -> dict:
    """Build a prediction record the way an analyst's tool would from a CSV row."""
    record = {}
    for column in schema:
        value = row[column["name"]].strip()
        if column["type"] == "numeric":
            record[column["name"]] = float(value) if value else None
        else:
            record[column["name"]] = value
    return record


@pytest.fixture(scope="module")
def telco_model(alice) -> dict:
    upload = alice.upload(TELCO)
    assert upload.status_code == 201, upload.text
    job = alice.train(upload.json()["id"], "Churn", model_type="gradient_boosting")
    assert job.status_code == 202, job.text
    finished = alice.wait_for_job(job.json()["id"])
    assert finished["state"] == "succeeded", finished
    model = alice.http.get(f"/api/v1/models/{finished['model_id']}")
    assert model.status_code == 200
    return {**model.json(), "job": finished, "dataset_id": upload.json()["id"]}


@pytest.mark.parametrize(
    ("filename", "target", "options", "metric", "bound"), NATURAL_TARGETS
)
def test_natural_target_metrics_are_sane(
    alice, filename, target, options, metric, bound
):
    upload = alice.upload(SHARED_DATASETS / filename)
    assert upload.status_code == 201, upload.text

    job = alice.train(upload.json()["id"], target, **options)
    assert job.status_code == 202, job.text
    finished = alice.wait_for_job(job.json()["id"], timeout_seconds=900)

    assert finished["state"] == "succeeded", finished
    model = alice.http.get(f"/api/v1/models/{finished['model_id']}").json()
    value = model["metrics"][metric]["test"]
    assert value > bound, (metric, value)
    assert model["parity"]["passed"] is True
    baseline = model["baseline_metrics"].get(metric)
    if baseline is not None:
        assert value > baseline


def test_service_predictions_match_the_exported_model(alice, telco_model, s3):
    """Service output equals onnxruntime on the artifact, which training checked
    against scikit-learn on its held-out rows (the parity report)."""
    schema = telco_model["input_schema"]
    rows = read_rows(TELCO, 50, skip=100)
    records = [as_record(row, schema) for row in rows]

    response = alice.http.post(
        f"/api/v1/models/{telco_model['id']}/predict", json={"records": records}
    )

    assert response.status_code == 200, response.text
    served = response.json()["predictions"]
    assert len(served) == len(rows)
    parity = telco_model["parity"]
    assert parity["passed"] is True
    assert parity["max_abs_probability_diff"] <= parity["tolerance"]

    artifact = _artifact(telco_model, s3)
    session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    feeds = {}
    for column in schema:
        values = [r[column["name"]] for r in records]
        if column["type"] == "numeric":
            array = np.array([np.nan if v is None else v for v in values], np.float32)
        else:
            array = np.array(values, dtype=object)
        feeds[column["onnx_input"]] = array.reshape(-1, 1)
    labels, probabilities = session.run(None, feeds)[:2]
    classes = telco_model["class_labels"]
    for index, prediction in enumerate(served):
        assert str(prediction["prediction"]) == str(labels[index])
        for class_index, label in enumerate(classes):
            expected = float(probabilities[index][class_index])
            assert prediction["probabilities"][str(label)] == pytest.approx(
                expected, abs=1e-6
            )


def _artifact(model: dict, s3) -> bytes:
    bucket = "narrative-models"
    keys = [k for k in s3_keys(s3, bucket, "models/") if f"/{model['id']}/" in k]
    onnx_keys = [k for k in keys if k.endswith(".onnx")]
    assert len(onnx_keys) == 1, keys
    return s3.get_object(Bucket=bucket, Key=onnx_keys[0])["Body"].read()


def test_twenty_concurrent_first_requests_load_once(alice, telco_model, stack):
    model_id = telco_model["id"]
    # Whole-cache counters such as loads are shown to administrators only.
    operator = httpx.Client(
        base_url=stack.gateway_url, headers={"X-API-Key": stack.api_key("ops", "admin")}
    )
    evicted = alice.http.delete(f"/api/v1/models/cache/{model_id}")
    assert evicted.status_code in (204, 404)
    before = operator.get("/api/v1/models/cache/status").json()
    assert before["scope"] == "all"
    record = as_record(read_rows(TELCO, 1)[0], telco_model["input_schema"])

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=str(alice.http.base_url),
            headers={"X-API-Key": alice.key},
            timeout=60,
        ) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/models/{model_id}/predict", json={"record": record}
                    )
                    for _ in range(20)
                )
            )

    responses = asyncio.run(burst())

    assert [r.status_code for r in responses] == [200] * 20
    after = operator.get("/api/v1/models/cache/status").json()
    operator.close()
    assert after["loads"] - before["loads"] == 1
    own = alice.http.get("/api/v1/models/cache/status").json()
    assert own["scope"] == "own"
    assert model_id in {e["model_id"] for e in own["entries"]}


def test_batch_prediction_returns_every_row(alice, telco_model):
    with TELCO.open("rb") as handle:
        content = handle.read()

    response = alice.http.post(
        f"/api/v1/models/{telco_model['id']}/predict/batch",
        files={"file": ("telco.csv", content, "text/csv")},
    )

    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 7043
    assert set(telco_model["class_labels"]) >= {rows[0]["prediction"]}
    assert rows[0]["customerID"] == "7590-VHVEG"


@pytest.mark.parametrize(
    ("change", "column_word"),
    [
        ("drop:tenure", "tenure"),
        ("add:favourite_colour", "favourite_colour"),
        ("set:tenure=twelve", "tenure"),
        ("raw:tenure=NaN", "tenure"),
        ("raw:MonthlyCharges=Infinity", "MonthlyCharges"),
    ],
)
def test_bad_prediction_input_names_the_column(alice, telco_model, change, column_word):
    record = as_record(read_rows(TELCO, 1)[0], telco_model["input_schema"])
    action, _, rest = change.partition(":")
    if action == "drop":
        record.pop(rest)
    elif action == "add":
        record[rest] = "blue"
    elif action == "set":
        name, _, value = rest.partition("=")
        record[name] = value
    if action == "raw":
        name, _, literal = rest.partition("=")
        record[name] = 0.0
        body = json.dumps({"record": record}).replace(
            f'"{name}": 0.0', f'"{name}": {literal}'
        )
        response = alice.http.post(
            f"/api/v1/models/{telco_model['id']}/predict",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    else:
        response = alice.http.post(
            f"/api/v1/models/{telco_model['id']}/predict", json={"record": record}
        )

    assert 400 <= response.status_code < 500, response.text
    assert column_word in response.text


def test_unseen_category_is_handled(alice, telco_model):
    record = as_record(read_rows(TELCO, 1)[0], telco_model["input_schema"])
    record["PaymentMethod"] = "Carrier pigeon"

    response = alice.http.post(
        f"/api/v1/models/{telco_model['id']}/predict", json={"record": record}
    )

    if response.status_code == 200:
        assert any("PaymentMethod" in w for w in response.json()["warnings"])
    else:
        assert response.status_code in (400, 422)
        assert "PaymentMethod" in response.text


def test_other_user_gets_404_for_jobs_and_models(alice, mallory, telco_model):
    model_id = telco_model["id"]
    record = as_record(read_rows(TELCO, 1)[0], telco_model["input_schema"])

    checks = [
        mallory.http.get(f"/api/v1/training/jobs/{telco_model['job']['id']}"),
        mallory.http.delete(f"/api/v1/training/jobs/{telco_model['job']['id']}"),
        mallory.http.get(f"/api/v1/models/{model_id}"),
        mallory.http.delete(f"/api/v1/models/{model_id}"),
        mallory.http.post(
            f"/api/v1/models/{model_id}/predict", json={"record": record}
        ),
        mallory.http.delete(f"/api/v1/models/cache/{model_id}"),
        mallory.train(telco_model["dataset_id"], "Churn"),
    ]

    assert [r.status_code for r in checks] == [404] * len(checks)
    listing = mallory.http.get("/api/v1/models")
    assert listing.status_code == 200
    assert model_id not in {m["id"] for m in listing.json()["items"]}
    status = mallory.http.get("/api/v1/models/cache/status").json()
    assert model_id not in {e["model_id"] for e in status["entries"]}
    assert alice.http.get(f"/api/v1/models/{model_id}").status_code == 200


def test_bad_training_requests_name_the_problem(alice, telco_model):
    dataset_id = telco_model["dataset_id"]

    missing_target = alice.train(dataset_id, "NoSuchColumn")
    assert missing_target.status_code in (400, 404, 422)
    assert "NoSuchColumn" in missing_target.text

    bad_type = alice.train(dataset_id, "Churn", model_type="telepathy")
    assert bad_type.status_code == 422
    assert "model_type" in bad_type.text

    wrong_kind = alice.train(dataset_id, "Churn", model_type="linear_regression")
    assert 400 <= wrong_kind.status_code < 500
    assert "linear_regression" in wrong_kind.text


def test_worker_killed_mid_job_does_not_lose_it(alice, stack):
    upload = alice.upload(TELCO)
    assert upload.status_code == 201
    job = alice.train(upload.json()["id"], "Churn", model_type="auto").json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = alice.http.get(f"/api/v1/training/jobs/{job['id']}").json()["state"]
        if state == "running":
            break
        time.sleep(0.2)
    assert state == "running"
    time.sleep(2)

    stack.stack.processes["training-worker"].kill()
    stack.stack.restart("training-worker")
    finished = alice.wait_for_job(job["id"], timeout_seconds=900)

    assert finished["state"] in ("succeeded", "failed"), finished
    if finished["state"] == "failed":
        assert finished["message"]
    else:
        assert finished["attempt"] >= 2 or finished["retries"]


def test_dataset_with_models_needs_cascade(alice, s3):
    upload = alice.upload(SHARED_DATASETS / "titanic.csv")
    dataset_id = upload.json()["id"]
    job = alice.train(dataset_id, "Survived", model_type="logistic_regression").json()
    finished = alice.wait_for_job(job["id"])
    assert finished["state"] == "succeeded", finished
    model_id = finished["model_id"]
    analysis = alice.http.post(f"/api/v1/analysis/models/{model_id}")
    assert analysis.status_code in (200, 201)

    refused = alice.http.delete(f"/api/v1/datasets/{dataset_id}")
    assert refused.status_code == 409
    assert model_id in refused.text
    assert alice.http.get(f"/api/v1/models/{model_id}").status_code == 200

    deleted = alice.http.delete(
        f"/api/v1/datasets/{dataset_id}", params={"cascade": "true"}
    )
    assert deleted.status_code == 204
    assert alice.http.get(f"/api/v1/datasets/{dataset_id}").status_code == 404
    assert alice.http.get(f"/api/v1/models/{model_id}").status_code == 404
    assert (
        alice.http.get(f"/api/v1/analysis/{analysis.json()['id']}").status_code == 404
    )
    assert [k for k in s3_keys(s3, "narrative-models") if model_id in k] == []
    assert [k for k in s3_keys(s3, "narrative-uploads") if dataset_id in k] == []
    status = alice.http.get("/api/v1/models/cache/status").json()
    assert model_id not in {e["model_id"] for e in status["entries"]}


def test_dataset_narrative_is_cached(alice, telco_model):
    first = alice.http.post(f"/api/v1/analysis/datasets/{telco_model['dataset_id']}")
    second = alice.http.post(f"/api/v1/analysis/datasets/{telco_model['dataset_id']}")

    assert first.status_code in (200, 201), first.text
    assert second.status_code in (200, 201)
    assert first.json()["analyzer"] == "local"
    assert second.json()["cached"] is True
    assert "Churn" in first.json()["result"]["summary"]
    assert "26.5%" in first.json()["markdown"]
