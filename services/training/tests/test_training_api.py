"""The training API and worker against real MongoDB, Redis and S3."""

import hashlib
import io
import json
import os
import time
import uuid

import boto3
import httpx
import pytest
import redis
from training_datasets import column_types, dataset_metadata, load
from training_servers import (
    FakeDatasets,
    Process,
    api_process,
    child_env,
    free_port,
    wait_http,
    worker_process,
)

OWNER = "analyst-1"
OTHER = "analyst-2"
UPLOADS = "narrative-uploads"
MODELS = "narrative-models"


class Training:
    """The running API and worker, with helpers to drive them."""

    def __init__(self, env, api_url, worker_url, fakes, s3, log_dir):
        self.env, self.api_url, self.worker_url = env, api_url, worker_url
        self.fakes, self.s3, self.log_dir = fakes, s3, log_dir
        self.worker = None

    def headers(self, user: str = OWNER) -> dict:
        return {"X-Internal-Token": self.env["INTERNAL_TOKEN"], "X-User-Id": user}

    def request(self, method: str, path: str, user: str = OWNER, **kwargs):
        return httpx.request(
            method,
            self.api_url + path,
            headers=self.headers(user),
            timeout=30,
            **kwargs,
        )

    def start_worker(self) -> None:
        self.worker = worker_process(self.env, self.log_dir)
        self.worker.start()
        wait_http(f"{self.worker_url}/health", 60)

    def add_dataset(
        self, name: str, frame, owner: str = OWNER, statistics: bool = True
    ) -> str:
        dataset_id = uuid.uuid4().hex[:24]
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        key = f"curated/{owner}/{dataset_id}.parquet"
        self.s3.put_object(Bucket=UPLOADS, Key=key, Body=buffer.getvalue())
        types = column_types(frame)
        body = {
            "id": dataset_id,
            "name": name,
            "rows": len(frame),
            "columns": [{"name": c, "type": types[c]} for c in frame.columns],
            "curated_object": {"bucket": UPLOADS, "key": key},
        }
        if statistics:
            body.update(dataset_metadata(frame))
        self.fakes.register(dataset_id, owner, body)
        return dataset_id

    def submit(self, dataset_id: str, target: str, **extra) -> httpx.Response:
        body = {"dataset_id": dataset_id, "target": target, **extra}
        return self.request("POST", "/api/v1/training/jobs", json=body)

    def wait_for(self, job_id: str, states, timeout_seconds=180.0) -> dict:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            job = self.request("GET", f"/api/v1/training/jobs/{job_id}").json()
            if job["state"] in states:
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not reach {states}: {job}")


@pytest.fixture(scope="module")
def training(infra, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("training-logs")
    fakes = FakeDatasets()
    fakes.start()
    api_port, worker_port = free_port(), free_port()
    env = child_env(
        infra.env,
        MONGODB_DATABASE=f"training_test_{uuid.uuid4().hex[:8]}",
        DATASETS_URL=fakes.url,
        ANALYSIS_URL=f"http://127.0.0.1:{free_port()}",
        TRAINING_QUEUE_NAME=f"training-test:{uuid.uuid4().hex[:8]}",
        TRAINING_WORKER_METRICS_PORT=str(worker_port),
        TRAINING_WORKER_HOST="127.0.0.1",
        TRAINING_HEARTBEAT_SECONDS="0.5",
        TRAINING_STALE_AFTER_SECONDS="4",
        TRAINING_REAPER_INTERVAL_SECONDS="1",
        LOG_FORMAT="console",
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    for bucket in (UPLOADS, MODELS):
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            pass
    api = api_process(env, api_port, log_dir)
    api.start()
    running = Training(
        env,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{worker_port}",
        fakes,
        s3,
        log_dir,
    )
    try:
        wait_http(f"{running.api_url}/health", 60)
        running.start_worker()
        yield running
    finally:
        if running.worker:
            running.worker.stop()
        api.stop()
        fakes.stop()


@pytest.fixture(scope="module")
def titanic_id(training):
    return training.add_dataset("titanic", load("titanic"))


def test_train_titanic_stores_model_and_publishes(training, titanic_id):
    subscriber = redis.Redis.from_url(training.env["REDIS_URL"]).pubsub()
    subscriber.subscribe("model-events")
    response = training.submit(titanic_id, "Survived", model_type="random_forest")
    assert response.status_code == 202
    job = response.json()
    assert job["state"] == "queued"

    job = training.wait_for(job["id"], {"succeeded", "failed"})
    assert job["state"] == "succeeded", job["message"]
    assert job["progress"] == {"fraction": 1.0, "stage": "done"}
    assert job["timings"]["run_seconds"] > 0
    assert {w["column"] for w in job["warnings"]} >= {"PassengerId", "Name"}

    response = training.request("GET", f"/api/v1/models/{job['model_id']}")
    assert response.status_code == 200
    model = response.json()
    assert model["problem_type"] == "classification"
    assert model["class_labels"] == ["0", "1"]
    assert model["metrics"]["accuracy"]["test"] > 0.75
    assert model["parity"]["passed"] is True
    assert model["input_schema"][0]["onnx_input"].startswith("c000")

    internal = training.request("GET", f"/internal/v1/models/{job['model_id']}")
    assert internal.status_code == 200
    artifact = internal.json()["artifact"]
    stored = training.s3.get_object(Bucket=artifact["bucket"], Key=artifact["key"])
    data = stored["Body"].read()
    assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    assert artifact["key"] == f"models/{OWNER}/{job['model_id']}/model.onnx"

    listed = training.request("GET", f"/internal/v1/models?dataset_id={titanic_id}")
    assert listed.status_code == 200
    assert {"id": job["model_id"], "name": model["name"]} in listed.json()["items"]

    events = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not events:
        message = subscriber.get_message(timeout=0.5)
        if message and message["type"] == "message":
            events.append(json.loads(message["data"]))
    assert events[0]["event"] == "model.trained"
    assert events[0]["model_id"] == job["model_id"]


def test_other_user_gets_404(training, titanic_id):
    job = training.submit(titanic_id, "Survived", model_type="logistic_regression")
    assert job.status_code == 202
    job = training.wait_for(job.json()["id"], {"succeeded"})
    paths = [
        f"/api/v1/training/jobs/{job['id']}",
        f"/api/v1/models/{job['model_id']}",
        f"/internal/v1/models/{job['model_id']}",
    ]
    for path in paths:
        response = training.request("GET", path, user=OTHER)
        assert response.status_code == 404, path
    deleted = training.request("DELETE", f"/api/v1/models/{job['model_id']}", OTHER)
    assert deleted.status_code == 404
    # The dataset is the owner's, so another user cannot train on it either.
    response = training.request(
        "POST",
        "/api/v1/training/jobs",
        user=OTHER,
        json={"dataset_id": titanic_id, "target": "Survived"},
    )
    assert response.status_code == 404
    assert response.json()["error"] == "dataset_not_found"


def test_delete_model_removes_artifact(training, titanic_id):
    job = training.submit(titanic_id, "Survived", model_type="logistic_regression")
    job = training.wait_for(job.json()["id"], {"succeeded"})
    model_id = job["model_id"]
    key = f"models/{OWNER}/{model_id}/model.onnx"
    response = training.request("DELETE", f"/api/v1/models/{model_id}")
    assert response.status_code == 204
    assert training.request("GET", f"/api/v1/models/{model_id}").status_code == 404
    listing = training.s3.list_objects_v2(Bucket=MODELS, Prefix=key)
    assert listing.get("KeyCount", 0) == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"target": "Nope"}, 422, "body.target"),
        ({"target": "Sex", "problem_type": "regression"}, 422,
         "body.problem_type"),
        ({"target": "Sex", "model_type": "linear_regression"}, 422,
         "body.model_type"),
        ({"target": "Survived", "model_type": "svm"}, 422, "body.model_type"),
        ({"target": "Survived", "include_columns": ["Ghost"]}, 422,
         "body.include_columns"),
        ({"target": "Survived", "dataset_id": "../datasets/" + "0" * 24}, 422,
         "body.dataset_id"),
        ({"target": "Survived", "dataset_id": "0" * 24 + "?x=1"}, 422,
         "body.dataset_id"),
        ({"target": "Survived", "dataset_id": "0" * 24 + "/profile"}, 422,
         "body.dataset_id"),
    ],
)  # fmt: skip
def test_bad_request_names_field(training, titanic_id, body, status, field):
    response = training.request(
        "POST", "/api/v1/training/jobs", json={"dataset_id": titanic_id, **body}
    )
    assert response.status_code == status
    assert response.json()["fields"][0]["field"] == field
    if field == "body.include_columns":
        assert "'Ghost'" in response.json()["fields"][0]["message"]


def test_unknown_dataset_gets_404(training):
    response = training.submit("0" * 24, "Survived")
    assert response.status_code == 404
    assert "GET /api/v1/datasets" in response.json()["message"]


def test_target_with_missing_values_rejected_at_submission(training, titanic_id):
    response = training.submit(titanic_id, "Age", problem_type="regression")
    assert response.status_code == 422
    field = response.json()["fields"][0]
    assert field["field"] == "body.target"
    assert "no value on 177 of 891 rows" in field["message"]


@pytest.mark.parametrize(
    ("rows", "body", "field"),
    [
        (None, {"target": "Constant"}, "body.target"),
        (None, {"target": "Fare", "problem_type": "classification"},
         "body.problem_type"),
        (None, {"target": "Fare", "model_type": "logistic_regression"},
         "body.model_type"),
        (20, {"target": "Survived"}, "body.dataset_id"),
    ],
)  # fmt: skip
def test_unfit_target_rejected_at_submission(training, rows, body, field):
    frame = load("titanic", rows)
    frame["Constant"] = 1
    dataset_id = training.add_dataset("titanic", frame)
    response = training.request(
        "POST", "/api/v1/training/jobs", json={"dataset_id": dataset_id, **body}
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == field


def test_worker_rejects_target_without_statistics(training):
    # A datasets service without column statistics skips the submission
    # checks, so the worker's own checks must still fail the job.
    frame = load("titanic")
    dataset_id = training.add_dataset("titanic", frame, statistics=False)
    response = training.submit(dataset_id, "Age", problem_type="regression")
    assert response.status_code == 202
    job = training.wait_for(response.json()["id"], {"succeeded", "failed"})
    assert job["state"] == "failed"
    assert "no value on 177 of 891 rows" in job["message"]


def test_cancel_running_job(training):
    dataset_id = training.add_dataset("telco", load("telco-customer-churn"))
    response = training.submit(dataset_id, "Churn", model_type="auto")
    assert response.status_code == 202
    job_id = response.json()["id"]
    training.wait_for(job_id, {"running"}, 60)
    response = training.request("DELETE", f"/api/v1/training/jobs/{job_id}")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    again = training.request("DELETE", f"/api/v1/training/jobs/{job_id}")
    assert again.status_code == 409
    # The worker notices within a heartbeat and moves on to the next job.
    follow_up = training.submit(dataset_id, "Churn", model_type="logistic_regression")
    finished = training.wait_for(follow_up.json()["id"], {"succeeded", "failed"}, 120)
    assert finished["state"] == "succeeded"
    job = training.request("GET", f"/api/v1/training/jobs/{job_id}").json()
    assert job["state"] == "cancelled"
    assert job["model_id"] is None


def test_dataset_cascade_lists_and_cancels_jobs(training):
    dataset_id = training.add_dataset("telco", load("telco-customer-churn"))
    response = training.submit(dataset_id, "Churn", model_type="auto")
    assert response.status_code == 202
    job_id = response.json()["id"]
    training.wait_for(job_id, {"running"}, 60)
    path = f"/internal/v1/models?dataset_id={dataset_id}"

    listed = training.request("GET", path)
    assert listed.status_code == 200
    assert listed.json()["active_jobs"] == [{"id": job_id, "state": "running"}]
    assert training.request("GET", path, user=OTHER).json()["active_jobs"] == []

    cancel = f"/internal/v1/jobs/cancel?dataset_id={dataset_id}"
    theirs = training.request("POST", cancel, user=OTHER)
    assert theirs.status_code == 200
    assert theirs.json() == {"cancelled": []}
    mine = training.request("POST", cancel)
    assert mine.status_code == 200
    assert mine.json() == {"cancelled": [job_id]}
    again = training.request("POST", cancel)
    assert again.json() == {"cancelled": []}

    job = training.request("GET", f"/api/v1/training/jobs/{job_id}").json()
    assert job["state"] == "cancelled"
    assert "being deleted" in job["message"]
    assert training.request("GET", path).json() == {"items": [], "active_jobs": []}


def test_dataset_deleted_during_run_stores_nothing(training, titanic_id):
    frame = load("titanic")
    dataset_id = training.add_dataset("titanic", frame)
    response = training.submit(dataset_id, "Survived", model_type="random_forest")
    assert response.status_code == 202
    # The API has read the metadata; the worker finds the dataset gone.
    training.fakes.unregister(dataset_id)
    job = training.wait_for(response.json()["id"], {"succeeded", "failed"})
    assert job["state"] == "failed"
    assert "was deleted while the job ran" in job["message"]
    assert job["model_id"] is None
    listed = training.request("GET", f"/internal/v1/models?dataset_id={dataset_id}")
    assert listed.json()["items"] == []


def test_worker_killed_mid_job_is_retried(training):
    dataset_id = training.add_dataset("telco", load("telco-customer-churn"))
    response = training.submit(dataset_id, "Churn", model_type="random_forest")
    job_id = response.json()["id"]
    training.wait_for(job_id, {"running"}, 60)
    time.sleep(1.0)
    training.worker.kill()
    assert (
        training.request("GET", f"/api/v1/training/jobs/{job_id}").json()["state"]
        == "running"
    )

    training.start_worker()
    job = training.wait_for(job_id, {"succeeded", "failed"}, 180)
    assert job["state"] == "succeeded", job["message"]
    assert job["attempt"] == 2
    assert "stopped sending heartbeats" in job["retries"][0]["reason"]


def test_worker_stopped_normally_records_shutdown(training):
    dataset_id = training.add_dataset("telco", load("telco-customer-churn"))
    response = training.submit(dataset_id, "Churn", model_type="random_forest")
    job_id = response.json()["id"]
    training.wait_for(job_id, {"running"}, 60)
    time.sleep(0.5)
    training.worker.stop()
    assert training.worker.popen.returncode == 0

    job = training.request("GET", f"/api/v1/training/jobs/{job_id}").json()
    assert job["state"] == "queued"
    assert job["attempt"] == 1
    reason = job["retries"][0]["reason"]
    assert "stopped normally (SIGTERM)" in reason
    assert "killed" not in reason

    training.start_worker()
    job = training.wait_for(job_id, {"succeeded", "failed"}, 180)
    assert job["state"] == "succeeded", job["message"]
    assert job["attempt"] == 1


def redis_server(port: int, log_dir) -> Process:
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no",
    ]  # fmt: skip
    server = Process(command, dict(os.environ), log_dir / f"redis-{port}.log")
    server.start()
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_worker_survives_redis_restart(training, tmp_path):
    redis_port, api_port, worker_port = free_port(), free_port(), free_port()
    server = redis_server(redis_port, tmp_path)
    env = dict(
        training.env,
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        TRAINING_WORKER_METRICS_PORT=str(worker_port),
    )
    api = api_process(env, api_port, tmp_path)
    own = Training(
        env,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{worker_port}",
        training.fakes,
        training.s3,
        tmp_path,
    )
    api.start()
    try:
        wait_http(f"{own.api_url}/health", 60)
        own.start_worker()
        server.stop()
        time.sleep(3)
        assert own.worker.popen.poll() is None
        server = redis_server(redis_port, tmp_path)

        dataset_id = own.add_dataset("titanic", load("titanic"))
        response = own.submit(dataset_id, "Survived", model_type="logistic_regression")
        assert response.status_code == 202
        job = own.wait_for(response.json()["id"], {"succeeded", "failed"}, 90)
        assert job["state"] == "succeeded", job["message"]
        assert own.worker.popen.poll() is None
    finally:
        if own.worker:
            own.worker.stop()
        api.stop()
        server.stop()


def test_list_jobs_paginated_newest_first(training):
    response = training.request("GET", "/api/v1/training/jobs?limit=2&offset=0")
    assert response.status_code == 200
    page = response.json()
    assert page["limit"] == 2
    assert page["total"] >= 4
    created = [job["timings"]["created_at"] for job in page["items"]]
    assert created == sorted(created, reverse=True)


def test_metrics_exposed(training):
    worker = httpx.get(f"{training.worker_url}/metrics", timeout=5)
    assert worker.status_code == 200
    assert 'training_jobs_total{outcome="succeeded"}' in worker.text
    assert "training_jobs_running" in worker.text
    api = httpx.get(f"{training.api_url}/metrics", timeout=5)
    assert api.status_code == 200
    assert "training_queue_depth" in api.text
    health = httpx.get(f"{training.worker_url}/health", timeout=5)
    assert health.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/v1/training/jobs/%00", "path.job_id"),
        ("DELETE", "/api/v1/training/jobs/not-an-id", "path.job_id"),
        ("GET", "/api/v1/models/%00", "path.model_id"),
        ("DELETE", "/api/v1/models/" + "Z" * 24, "path.model_id"),
        ("GET", "/internal/v1/models/%00", "path.model_id"),
        ("GET", "/internal/v1/models?dataset_id=%00", "query.dataset_id"),
    ],
)
def test_malformed_id_gets_422(training, method, path, field):
    response = training.request(method, path)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == field
