"""Measure the training service's overhead over a bare scikit-learn fit.

Overhead is everything a job adds on top of scikit-learn: queueing, loading
the Parquet from S3, the leakage guard, ONNX export, the parity check and
storage. The reference is the same pipeline's 5-fold cross-validation, fit
and test prediction on the same Telco churn data in this process, timed in
alternation with the jobs so both see the same machine load.

    python services/training/bench_overhead.py --model-type random_forest --repeats 3

It starts MongoDB, Redis and S3 on free loopback ports (narrative_devstack),
the training API and one worker as subprocesses, and a fake datasets
service; `run_benchmark()` returns the figures for a caller.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parent / "tests"
sys.path.insert(0, str(TESTS))

from training_datasets import column_types, load  # noqa: E402
from training_servers import (  # noqa: E402
    FakeDatasets,
    api_process,
    child_env,
    free_port,
    wait_http,
    worker_process,
)

from narrative_training.pipeline import estimators  # noqa: E402
from narrative_training.pipeline.columns import model_inputs, select_features  # noqa: E402
from narrative_training.pipeline.targets import prepare_target  # noqa: E402
from narrative_training.pipeline.train import (  # noqa: E402
    TrainingRequest,
    _cross_validate,
    _score,
)

TARGET = "Churn"


def bare_fit_seconds(frame, model_type: str) -> float:
    """Time the scikit-learn work alone: 5-fold CV, the fit and test predictions."""
    from sklearn.model_selection import train_test_split

    types = column_types(frame)
    request = TrainingRequest(target=TARGET, column_types=types, model_type=model_type)
    y = prepare_target(frame[TARGET], TARGET, "classification")
    plan = select_features(frame, types, TARGET, request.include_columns)
    inputs = model_inputs(frame, plan.features)
    x_train, x_test, y_train, y_test = train_test_split(
        inputs, y, test_size=0.2, random_state=estimators.RANDOM_STATE, stratify=y
    )
    candidates = (
        estimators.AUTO_CANDIDATES["classification"]
        if model_type == estimators.AUTO
        else (model_type,)
    )
    started = time.perf_counter()
    leaderboard = _cross_validate(
        candidates, plan, "classification", x_train, y_train,
        lambda *_: None, 2,
    )  # fmt: skip
    chosen = leaderboard[0]["model_type"]
    pipeline = estimators.build_pipeline(plan, chosen, "classification", 2)
    pipeline.fit(x_train, y_train)
    _score(pipeline, x_test, y_test.to_numpy(), [str(c) for c in pipeline.classes_])
    return time.perf_counter() - started


def job_seconds(api_url: str, headers: dict, dataset_id: str, model_type: str):
    """Submit one job and return (seconds from POST to succeeded, job record)."""
    body = {"dataset_id": dataset_id, "target": TARGET, "model_type": model_type}
    started = time.perf_counter()
    response = httpx.post(
        f"{api_url}/api/v1/training/jobs", json=body, headers=headers, timeout=30
    )
    response.raise_for_status()
    job_id = response.json()["id"]
    deadline = started + 600
    while time.perf_counter() < deadline:
        job = httpx.get(
            f"{api_url}/api/v1/training/jobs/{job_id}", headers=headers, timeout=30
        ).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            if job["state"] != "succeeded":
                raise RuntimeError(f"job {job_id} {job['state']}: {job['message']}")
            return time.perf_counter() - started, job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not finish within 600 s")


def run_benchmark(model_type: str = "random_forest", repeats: int = 3) -> dict:
    from narrative_devstack.stack import Stack, StackConfig

    frame = load("telco-customer-churn")
    workdir = Path(tempfile.mkdtemp(prefix="bench-training-"))
    stack = Stack(StackConfig.on_free_ports(workdir, environment="test"))
    stack.start_infrastructure()
    fakes = FakeDatasets()
    fakes.start()
    processes = []
    try:
        api_port, worker_port = free_port(), free_port()
        env = child_env(
            stack.config.env(),
            DATASETS_URL=fakes.url,
            TRAINING_WORKER_METRICS_PORT=str(worker_port),
            TRAINING_WORKER_HOST="127.0.0.1",
            LOG_LEVEL="WARNING",
        )
        dataset_id = _upload(env, fakes, frame)
        api = api_process(env, api_port, workdir)
        worker = worker_process(env, workdir)
        processes = [api, worker]
        api.start()
        worker.start()
        api_url = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api_url}/health")
        wait_http(f"http://127.0.0.1:{worker_port}/health")
        headers = {"X-Internal-Token": env["INTERNAL_TOKEN"], "X-User-Id": "bench"}

        job_seconds(api_url, headers, dataset_id, model_type)  # warm-up
        bare, total = [], []
        stages: dict[str, list[float]] = {}
        for _ in range(repeats):
            bare.append(bare_fit_seconds(frame, model_type))
            seconds, job = job_seconds(api_url, headers, dataset_id, model_type)
            total.append(seconds)
            for item in job["timings"]["stages"]:
                stages.setdefault(item["stage"], []).append(item["seconds"])
        bare_median = statistics.median(bare)
        job_median = statistics.median(total)
        return {
            "model_type": model_type,
            "repeats": repeats,
            "bare_sklearn_seconds": bare,
            "job_end_to_end_seconds": total,
            "overhead_ratio": (job_median - bare_median) / bare_median,
            "median_stage_seconds": {
                stage: round(statistics.median(values), 4)
                for stage, values in stages.items()
            },
        }
    finally:
        for process in processes:
            process.stop()
        fakes.stop()
        stack.stop()


def _upload(env: dict, fakes: FakeDatasets, frame) -> str:
    import io

    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    s3.create_bucket(Bucket="narrative-uploads")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    key = "curated/bench/telco.parquet"
    s3.put_object(Bucket="narrative-uploads", Key=key, Body=buffer.getvalue())
    types = column_types(frame)
    dataset_id = "b" * 24
    fakes.register(
        dataset_id,
        "bench",
        {
            "id": dataset_id,
            "name": "telco",
            "rows": len(frame),
            "columns": [{"name": c, "type": types[c]} for c in frame.columns],
            "curated_object": {"bucket": "narrative-uploads", "key": key},
        },
    )
    return dataset_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-type", default="random_forest")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run_benchmark(args.model_type, args.repeats), indent=2))


if __name__ == "__main__":
    main()
