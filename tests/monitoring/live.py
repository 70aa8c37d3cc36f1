"""A local stand-in for the OpenAI API and the analyst traffic the live tests send.

The traffic covers what the dashboards and the runbook look at: uploads,
training, single-row and batch predictions, analyses through OpenAI, the
expected failures (401, 404, 422, rejected uploads) and real 5xx responses,
made by stopping the datasets service and then S3 for a few seconds.
"""

import csv
import io
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from narrative_common.auth import User, internal_headers

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = REPO_ROOT / ".." / "shared" / "datasets"
TELCO = SHARED_DATASETS / "telco-customer-churn.csv"
EARLIER_RUNBOOK = REPO_ROOT / ".." / "shared" / "seed" / "monitoring-runbook.md"


# OpenAI ---------------------------------------------------------------------


def _dataset_insights() -> dict:
    """A reply in the dataset schema whose one finding cites a field that
    does not exist, so the fact check drops it."""
    finding = {
        "title": "Churn is common",
        "detail": "About 27 in 100 customers left.",
        "severity": "info",
        "columns": ["Churn"],
        "evidence": [{"value": 27, "source": "no_such_field"}],
    }
    return {
        "summary": "A customer table with a churn flag.",
        "key_findings": [finding],
        "data_quality_risks": [],
        "recommended_targets": [],
        "recommended_model_types": [],
        "next_steps": ["Train a model on Churn."],
    }


class FakeOpenAI:
    """Serve chat completions on a loopback port, always with dataset insights.

    A model analysis gets the dataset schema too, which the service rejects
    as invalid output. `fail_next(n)` makes the next n calls fail with 500.
    """

    def __init__(self) -> None:
        self.calls = 0
        self._failures = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                status, body = fake._answer(request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def _answer(self, request: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls += 1
            if self._failures > 0:
                self._failures -= 1
                return 500, {"error": {"message": "upstream failed", "type": "server"}}
        content = json.dumps(_dataset_insights())
        return 200, {
            "id": f"chatcmpl-{self.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "gpt-4o-mini"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 900,
                "completion_tokens": 120,
                "total_tokens": 1020,
            },
        }


# Traffic --------------------------------------------------------------------


def tiny_csv(seed: int, rows: int = 40) -> bytes:
    """A small classification table, different for each seed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["age", "plan", "visits", "left"])
    for i in range(rows):
        age = 20 + (i * 7 + seed) % 50
        visits = (i * 3 + seed) % 11
        plan = ("basic", "plus", "pro")[(i + seed) % 3]
        # Loosely tied to visits, so that training keeps visits as a feature.
        left = "yes" if (visits + i * 5 + seed) % 7 < 3 else "no"
        writer.writerow([age, plan, visits, left])
    return out.getvalue().encode()


def as_record(row: dict[str, str], schema: list[dict]) -> dict:
    record = {}
    for column in schema:
        value = row[column["name"]].strip()
        if column["type"] == "numeric":
            record[column["name"]] = float(value) if value else None
        else:
            record[column["name"]] = value
    return record


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url}: "
        f"{response.status_code} {response.text[:300]}"
    )
    return response


class Analyst:
    """A user calling through Traefik with an API key."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers={"X-API-Key": key},
            timeout=httpx.Timeout(300, connect=10),
        )

    def upload(self, name: str, content: bytes) -> dict:
        response = self.http.post("/api/v1/datasets", files={"file": (name, content)})
        return expect(response, 201).json()

    def train(self, dataset_id: str, target: str, **options) -> dict:
        response = self.http.post(
            "/api/v1/training/jobs",
            json={"dataset_id": dataset_id, "target": target, **options},
        )
        job = expect(response, 202).json()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = expect(self.http.get(f"/api/v1/training/jobs/{job['id']}"), 200)
            job = job.json()
            if job["state"] in ("succeeded", "failed", "cancelled"):
                assert job["state"] == "succeeded", job
                model = self.http.get(f"/api/v1/models/{job['model_id']}")
                return expect(model, 200).json()
            time.sleep(0.3)
        raise TimeoutError(f"training job {job['id']} did not finish in 300 s")

    def close(self) -> None:
        self.http.close()


def _hit_health(stack) -> None:
    """Health reports set dependency_up on every service."""
    expect(httpx.get(f"{stack.gateway_url}/health/detailed", timeout=30), 200, 503)
    for name in ("datasets", "training", "inference", "analysis"):
        url = f"{stack.service_url(name)}/health/detailed"
        expect(httpx.get(url, timeout=30), 200, 503)


def run_workflow(stack, analyst: Analyst, fake_openai: FakeOpenAI) -> dict:
    """Send the analyst's workflow, expected failures and slow requests."""
    http = analyst.http
    telco_bytes = TELCO.read_bytes()
    telco = analyst.upload(TELCO.name, telco_bytes)
    spare = analyst.upload("visits.csv", tiny_csv(1))
    # Analyzed only while the datasets service is down (see _datasets_outage).
    fresh = analyst.upload("visits-later.csv", tiny_csv(3))
    model = analyst.train(telco["id"], "Churn", model_type="logistic_regression")
    model_id = model["id"]

    with TELCO.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for _, row in zip(range(30), csv.DictReader(handle), strict=False)]
    records = [as_record(row, model["input_schema"]) for row in rows]
    for record in records[:20]:
        response = http.post(
            f"/api/v1/models/{model_id}/predict", json={"record": record}
        )
        expect(response, 200)
    expect(
        http.post(f"/api/v1/models/{model_id}/predict", json={"records": records}), 200
    )
    # The slow one: every Telco row through the batch endpoint.
    batch = http.post(
        f"/api/v1/models/{model_id}/predict/batch",
        files={"file": ("telco.csv", telco_bytes, "text/csv")},
    )
    expect(batch, 200)
    expect(http.get("/api/v1/models/cache/status"), 200)

    # Analyses: a dataset (OpenAI replies, one finding is dropped), the same
    # again (cache hit), and a model (the reply has the wrong schema).
    expect(http.post(f"/api/v1/analysis/datasets/{telco['id']}"), 200)
    expect(http.post(f"/api/v1/analysis/datasets/{telco['id']}"), 200)
    expect(http.post(f"/api/v1/analysis/models/{model_id}"), 200)
    fake_openai.fail_next(4)
    expect(http.post(f"/api/v1/analysis/datasets/{spare['id']}"), 200)
    fake_openai.fail_next(0)
    expect(http.get("/api/v1/analysis"), 200)

    _hit_health(stack)
    _datasets_outage(stack, http, fresh["id"])
    _storage_outage(stack, http, model_id, records[0])

    # Expected failures, after the outages: a restart starts a process's
    # counters afresh.
    gateway = stack.gateway_url
    expect(httpx.get(f"{gateway}/api/v1/datasets"), 401)
    expect(httpx.get(f"{gateway}/api/v1/datasets", headers={"X-API-Key": "bad"}), 401)
    missing = "0123456789abcdef01234567"
    expect(http.get(f"/api/v1/datasets/{missing}"), 404)
    expect(http.get(f"/api/v1/models/{missing}"), 404)
    expect(http.post(f"/api/v1/models/{missing}/predict", json={"record": {}}), 404)
    expect(http.get(f"/api/v1/analysis/{missing}"), 404)
    expect(http.post("/api/v1/training/jobs", json={"dataset_id": telco["id"]}), 422)
    expect(
        http.post(
            "/api/v1/training/jobs",
            json={"dataset_id": telco["id"], "target": "no_such_column"},
        ),
        400,
        422,
    )
    bad_record = {**records[0], "tenure": "twelve"}
    expect(
        http.post(f"/api/v1/models/{model_id}/predict", json={"record": bad_record}),
        400,
        422,
    )
    expect(http.post("/api/v1/datasets", files={"file": ("empty.csv", b"")}), 400, 422)
    ragged = b"a,b\n1,2\n3,4,5\n"
    expect(
        http.post("/api/v1/datasets", files={"file": ("ragged.csv", ragged)}), 400, 422
    )
    _hit_health(stack)
    return {"telco": telco, "spare": spare, "model": model, "records": records}


def _datasets_outage(stack, http: httpx.Client, dataset_id: str) -> None:
    """Stop the datasets service: Traefik returns 502, its callers 5xx."""
    stack.stack.processes["datasets"].stop()
    try:
        expect(http.get("/api/v1/datasets"), 502, 503)
        # Never analyzed, so the analysis service must fetch its profile.
        expect(http.post(f"/api/v1/analysis/datasets/{dataset_id}"), 503)
        expect(
            http.post(
                "/api/v1/training/jobs",
                json={"dataset_id": dataset_id, "target": "left"},
            ),
            502,
            503,
        )
    finally:
        stack.stack.restart("datasets")


def _storage_outage(stack, http: httpx.Client, model_id: str, record: dict) -> None:
    """Stop S3: a model load and an upload fail with 503."""
    expect(http.delete(f"/api/v1/models/cache/{model_id}"), 204, 404)
    stack.stack.processes["s3"].stop()
    try:
        with ThreadPoolExecutor(2) as pool:
            predict = pool.submit(
                http.post, f"/api/v1/models/{model_id}/predict", json={"record": record}
            )
            upload = pool.submit(
                http.post,
                "/api/v1/datasets",
                files={"file": ("during-outage.csv", tiny_csv(2))},
            )
            # 503 is the contract; inference returns 500 today because a
            # failed model download is not mapped to DependencyUnavailable.
            expect(predict.result(), 500, 503)
            expect(upload.result(), 503)
    finally:
        stack.stack.restart("s3")


# Bulk load ------------------------------------------------------------------

PREDICTIONS_PER_MODEL = 3


def _client(stack, service: str, user_id: str) -> httpx.Client:
    headers = internal_headers(stack.config.internal_token, User(user_id))
    return httpx.Client(
        base_url=stack.service_url(service), headers=headers, timeout=120
    )


def _upload(stack, user_id: str) -> dict:
    with _client(stack, "datasets", user_id) as http:
        seed = int(user_id.rsplit("-", 1)[1])
        response = http.post(
            "/api/v1/datasets", files={"file": (f"{user_id}.csv", tiny_csv(seed))}
        )
        return expect(response, 201).json()


def _train(stack, user_id: str, dataset_id: str) -> str:
    with _client(stack, "training", user_id) as http:
        job = http.post(
            "/api/v1/training/jobs",
            json={
                "dataset_id": dataset_id,
                "target": "left",
                "model_type": "logistic_regression",
            },
        )
        job_id = expect(job, 202).json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = expect(http.get(f"/api/v1/training/jobs/{job_id}"), 200).json()
            if state["state"] in ("succeeded", "failed", "cancelled"):
                assert state["state"] == "succeeded", state
                return state["model_id"]
            time.sleep(0.3)
    raise TimeoutError(f"training job {job_id} did not finish in 120 s")


def _predict(stack, user_id: str, model_id: str) -> None:
    with _client(stack, "training", user_id) as http:
        model = expect(http.get(f"/api/v1/models/{model_id}"), 200).json()
    values = {"age": 31, "plan": "plus", "visits": 2}
    record = {c["name"]: values[c["name"]] for c in model["input_schema"]}
    with _client(stack, "inference", user_id) as http:
        for _ in range(PREDICTIONS_PER_MODEL):
            response = http.post(
                f"/api/v1/models/{model_id}/predict", json={"record": record}
            )
            expect(response, 200)


def _raw_paths(stack) -> None:
    """Requests for ids and paths that do not exist: the endpoint label must
    still take the route template, or `unmatched`."""
    for service in ("datasets", "training", "inference", "analysis"):
        with _client(stack, service, "user-raw-paths") as http:
            for _ in range(5):
                missing = uuid.uuid4().hex[:24]
                expect(http.get(f"/api/v1/datasets/{missing}"), 404)
                expect(http.get(f"/no/such/path/{missing}"), 404)
    with httpx.Client(base_url=stack.service_url("gateway"), timeout=30) as http:
        for _ in range(5):
            expect(http.get(f"/no/such/path/{uuid.uuid4().hex}"), 404)


def bulk_load(stack, users: int, models: int) -> dict:
    """Upload a dataset for each user, train models for the first users,
    predict on each model, and request ids and paths that do not exist."""
    names = [f"user-{index:03d}" for index in range(users)]
    with ThreadPoolExecutor(4) as pool:
        datasets = list(pool.map(lambda user: _upload(stack, user), names))
        pairs = list(zip(names, datasets, strict=True))[:models]
        model_ids = list(pool.map(lambda p: _train(stack, p[0], p[1]["id"]), pairs))
        list(
            pool.map(
                lambda pair: _predict(stack, *pair), zip(names, model_ids, strict=False)
            )
        )
    _raw_paths(stack)
    return {"users": names, "datasets": datasets, "models": model_ids}
