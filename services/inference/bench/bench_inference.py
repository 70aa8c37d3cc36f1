"""Benchmark single-row and batch prediction against references in the same run.

Measures, on one Telco churn random forest:
- single-row prediction at concurrency 1, 16 and 64 (p50, p99, requests/s).
  Targets: the gateway (when a gateway URL and API key are given), an
  inference process started here, a bare FastAPI app that calls onnxruntime
  directly, `mlflow models serve` when MLflow installs, and in-process
  onnxruntime calls;
- the gateway at a fixed 200 requests/s (open loop), for its p99;
- the load generator's own ceiling, against a server that answers at once;
- batch prediction of a 100,000-row CSV, end to end, against in-process
  onnxruntime on the same rows;
- the first and the hundredth prediction after the inference process restarts.

Without a gateway it starts its own MongoDB, Redis and S3 (narrative_devstack)
and a stand-in for training's metadata endpoint. With `--gateway-url` and
`--api-key` (or BENCH_GATEWAY_URL and BENCH_API_KEY) it also needs the stack's
settings in the environment (REDIS_URL, S3_*, TRAINING_URL, INTERNAL_TOKEN, as
`python -m narrative_devstack.cli env` prints) and trains a model through the
API unless `--model-id` names one owned by `--user`.

Results go to bench-results/inference-<time>.json and .md at the repo root.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.csv as pacsv

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import mlflow_reference  # noqa: E402
import telco_model  # noqa: E402

REPO_ROOT = BENCH_DIR.parents[2]
CONCURRENCIES = (1, 16, 64)
MAX_REQUESTS_PER_POINT = 50_000
MODEL_ID = "bench-telco-rf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


class Processes:
    """Processes started by this run, stopped by pid at exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(
        self, name: str, command: list[str], env: dict, ready_url: str
    ) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.running[name] = process
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.log_dir / name}.log")
            try:
                if httpx.get(ready_url, timeout=2).status_code < 500:
                    return process
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not respond on {ready_url} within 90 s")

    def stop(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def uvicorn_command(app: str, port: int, app_dir: Path | None = None) -> list[str]:
    command = [
        sys.executable, "-m", "uvicorn", app,
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    return command


def load(
    url: str,
    body: Path,
    headers: list[str],
    concurrency: int,
    seconds: float,
    rate: float | None = None,
) -> dict:
    """Run the load generator in its own process and return its summary."""
    command = [
        sys.executable, str(BENCH_DIR / "loadgen.py"), url,
        "--body-file", str(body), "--concurrency", str(concurrency),
        "--requests", str(MAX_REQUESTS_PER_POINT), "--seconds", str(seconds),
    ]  # fmt: skip
    for header in headers:
        command += ["--header", header]
    if rate is not None:
        command += ["--rate", str(rate)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip()[-300:]}
    return json.loads(result.stdout)


def sweep(name: str, url: str, body: Path, headers: list[str], seconds: float) -> dict:
    load(url, body, headers, 4, min(seconds, 2.0))  # warm-up, not reported
    points = {}
    for concurrency in CONCURRENCIES:
        points[str(concurrency)] = load(url, body, headers, concurrency, seconds)
        point = points[str(concurrency)]
        say(
            f"{name:<22} c={concurrency:<3} {point.get('rps', 0):>8} req/s  "
            f"p50 {point.get('p50_ms')} ms  p99 {point.get('p99_ms')} ms  "
            f"errors {point.get('errors')}"
        )
    return points


def feed_from_record(metadata: dict, record: dict) -> dict:
    feed = {}
    for column in metadata["input_schema"]:
        value = record[column["name"]]
        if column["type"] == "numeric":
            number = np.nan if value is None else value
            feed[column["onnx_input"]] = np.array([[number]], dtype=np.float32)
        else:
            feed[column["onnx_input"]] = np.array([[value or ""]], dtype=object)
    return feed


def open_session(data: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def in_process_single(session, feed: dict, seconds: float) -> dict:
    latencies = []
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline and len(latencies) < 200_000:
        begin = time.perf_counter()
        session.run(None, feed)
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 4),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 4),
    }


def in_process_batch(session, metadata: dict, csv_path: Path, batch_rows: int) -> dict:
    """Rows/s of session.run alone over the CSV's rows, features prepared beforehand."""
    table = pacsv.read_csv(
        csv_path,
        convert_options=pacsv.ConvertOptions(
            column_types={c["name"]: pa.string() for c in metadata["input_schema"]}
        ),
    )
    columns = {}
    for column in metadata["input_schema"]:
        values = table.column(column["name"]).to_numpy(zero_copy_only=False)
        if column["type"] == "numeric":
            numbers = np.array(
                [float(v) if v.strip() else np.nan for v in values], dtype=np.float32
            )
            columns[column["onnx_input"]] = numbers.reshape(-1, 1)
        else:
            columns[column["onnx_input"]] = values.astype(object).reshape(-1, 1)
    rows = table.num_rows
    start = time.perf_counter()
    for offset in range(0, rows, batch_rows):
        session.run(
            None, {k: v[offset : offset + batch_rows] for k, v in columns.items()}
        )
    elapsed = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed),
    }


def post_batch(url: str, csv_path: Path, headers: dict) -> dict:
    start = time.perf_counter()
    with csv_path.open("rb") as handle, httpx.Client(timeout=600) as client:
        response = client.post(
            url, files={"file": ("rows.csv", handle, "text/csv")}, headers=headers
        )
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        return {"error": f"HTTP {response.status_code}: {response.text[:300]}"}
    lines = response.content.count(b"\n") - 1
    return {
        "rows": lines,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(lines / elapsed),
        "server_ms": float(response.headers.get("x-latency-ms", "nan")),
    }


def train_through_gateway(gateway: str, api_key: str) -> str:
    """Upload Telco and train a random forest through the public API; return its id."""
    headers = {"X-API-Key": api_key}
    with httpx.Client(base_url=gateway, headers=headers, timeout=120) as client:
        with telco_model.TELCO_CSV.open("rb") as handle:
            response = client.post(
                "/api/v1/datasets",
                files={"file": ("telco-customer-churn.csv", handle, "text/csv")},
            )
        response.raise_for_status()
        dataset_id = response.json()["id"]
        response = client.post(
            "/api/v1/training/jobs",
            json={
                "dataset_id": dataset_id,
                "target": "Churn",
                "model_type": "random_forest",
                "problem_type": "classification",
            },
        )
        response.raise_for_status()
        job_id = response.json()["id"]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            job = client.get(f"/api/v1/training/jobs/{job_id}").json()
            if job["state"] == "succeeded":
                return job["model_id"]
            if job["state"] in ("failed", "cancelled"):
                raise RuntimeError(
                    f"training ended as {job['state']}: {job.get('message')}"
                )
            time.sleep(2)
    raise RuntimeError("training did not finish within 15 minutes")


def stack_model(model_id: str, owner: str) -> tuple[dict, bytes]:
    """Fetch a stack model's metadata from training and its ONNX file from S3."""
    import boto3
    from botocore.config import Config

    response = httpx.get(
        f"{os.environ['TRAINING_URL']}/internal/v1/models/{model_id}",
        headers={"X-Internal-Token": os.environ["INTERNAL_TOKEN"], "X-User-Id": owner},
        timeout=30,
    )
    response.raise_for_status()
    metadata = response.json()
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}),
    )
    artifact = metadata["artifact"]
    body = s3.get_object(Bucket=artifact["bucket"], Key=artifact["key"])["Body"].read()
    return metadata, body


def upload_to_s3(env: dict, metadata: dict, data: bytes) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
        config=Config(s3={"addressing_style": "path"}),
    )
    artifact = metadata["artifact"]
    try:
        s3.create_bucket(Bucket=artifact["bucket"])
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket=artifact["bucket"], Key=artifact["key"], Body=data)


def first_vs_hundredth(
    processes: Processes,
    env: dict,
    port: int,
    predict_url: str,
    body: bytes,
    headers: dict,
) -> dict:
    """Restart the bench's inference process, wait for its preload, time 100 calls."""
    processes.stop("inference")
    base = f"http://127.0.0.1:{port}"
    processes.start(
        "inference",
        uvicorn_command("narrative_inference.main:app", port),
        env,
        f"{base}/health",
    )
    preload = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/api/v1/models/cache/status", headers=headers).json()
        preload = status["preload"]
        if preload["state"] == "done":
            break
        time.sleep(0.1)
    latencies = []
    with httpx.Client(timeout=30) as client:
        # Open the connection first, so the first prediction does not pay for it.
        client.get(f"{base}/health").raise_for_status()
        for _ in range(100):
            start = time.perf_counter()
            response = client.post(
                predict_url, content=body,
                headers={**headers, "Content-Type": "application/json"},
            )  # fmt: skip
            latencies.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
    return {
        "preload": preload,
        "first_ms": round(latencies[0], 3),
        "hundredth_ms": round(latencies[99], 3),
        "median_2_to_100_ms": round(statistics.median(latencies[1:]), 3),
    }


def try_mlflow(
    pipeline, record: dict, work: Path, processes: Processes, seconds: float
) -> dict:
    import sklearn

    try:
        python = mlflow_reference.ensure_mlflow(sklearn.__version__)
        model_dir = mlflow_reference.save_model(python, pipeline, work)
        port = free_port()
        process = mlflow_reference.serve(python, model_dir, port, work / "mlflow.log")
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        say(f"mlflow models serve not measured: {exc}")
        return {"error": str(exc)}
    processes.running["mlflow"] = process
    body = work / "mlflow-body.json"
    body.write_text(json.dumps({"dataframe_records": [record]}))
    try:
        return sweep(
            "mlflow models serve",
            f"http://127.0.0.1:{port}/invocations",
            body,
            [],
            seconds,
        )
    finally:
        processes.stop("mlflow")


def peak_rps(points: dict | None) -> float | None:
    if not points or "error" in points:
        return None
    values = [p.get("rps") for p in points.values() if isinstance(p, dict)]
    values = [v for v in values if v]
    return max(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def markdown(results: dict) -> str:
    lines = [
        f"# Inference benchmark, {results['started_at']}",
        "",
        f"Machine: {results['machine']}. Model: {results['model']}.",
        "",
        "## Single-row prediction",
        "",
        "| target | concurrency | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, points in results["single_row"].items():
        if "error" in points:
            lines.append(
                f"| {name} | - | not measured: {points['error'][:120]} | | | |"
            )
            continue
        for concurrency, point in points.items():
            lines.append(
                f"| {name} | {concurrency} | {point.get('rps')} | {point.get('p50_ms')}"
                f" | {point.get('p99_ms')} | {point.get('errors', 0)} |"
            )
    lines += ["", "## Ratios and targets", ""]
    for name, value in results["ratios"].items():
        lines.append(f"- {name}: {value}")
    lines += ["", "## Batch", "", "```", json.dumps(results["batch"], indent=2), "```"]
    lines += [
        "",
        "## First and hundredth prediction after a restart",
        "",
        "```",
        json.dumps(results["restart"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway-url", default=os.environ.get("BENCH_GATEWAY_URL"))
    parser.add_argument("--api-key", default=os.environ.get("BENCH_API_KEY"))
    parser.add_argument("--user", default=os.environ.get("BENCH_USER", "bench"))
    parser.add_argument("--model-id", default=os.environ.get("BENCH_MODEL_ID"))
    parser.add_argument("--seconds", type=float, default=6.0, help="per load point")
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "bench-results")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="narrative-bench-"))
    (work / "log").mkdir()
    processes = Processes(work / "log")
    results: dict = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"onnxruntime {ort.__version__}",
        "work_dir": str(work),
        "single_row": {},
    }
    with ExitStack() as cleanup:
        cleanup.callback(processes.stop_all)
        say("fitting the Telco random forest and exporting it to ONNX")
        gateway_mode = bool(args.gateway_url and args.api_key)
        owner = args.user if gateway_mode else "bench-user"
        local_metadata, local_onnx, pipeline = telco_model.build(
            MODEL_ID, owner, "narrative-models"
        )
        if gateway_mode:
            model_id = args.model_id or train_through_gateway(
                args.gateway_url, args.api_key
            )
            metadata, onnx_bytes = stack_model(model_id, owner)
            env = dict(os.environ)
            results["model"] = f"stack model {model_id} ({metadata['model_type']})"
        else:
            from narrative_devstack.stack import Stack, StackConfig

            say("starting MongoDB, Redis and S3 on free ports")
            stack = Stack(StackConfig.on_free_ports(work / "infra", environment="test"))
            stack.start_infrastructure()
            cleanup.callback(stack.stop)
            env = {**os.environ, **stack.config.env()}
            metadata, onnx_bytes = local_metadata, local_onnx
            model_id = MODEL_ID
            upload_to_s3(env, metadata, onnx_bytes)
            results["model"] = "Telco RandomForestClassifier, 100 trees, depth 12"
        model_dir = work / "model"
        model_dir.mkdir()
        (model_dir / "model.onnx").write_bytes(onnx_bytes)
        (model_dir / "metadata.json").write_text(json.dumps(metadata))
        app_env = {**env, "BENCH_MODEL_DIR": str(model_dir)}
        if not gateway_mode:
            training_port = free_port()
            processes.start(
                "fake-training",
                uvicorn_command(
                    "reference_apps:fake_training_app", training_port, BENCH_DIR
                ),
                {**app_env, "BENCH_APP": "training"},
                f"http://127.0.0.1:{training_port}/health",
            )
            env["TRAINING_URL"] = f"http://127.0.0.1:{training_port}"
        env["INFERENCE_PRELOAD_COUNT"] = "4"
        inference_port = free_port()
        base = f"http://127.0.0.1:{inference_port}"
        processes.start(
            "inference",
            uvicorn_command("narrative_inference.main:app", inference_port),
            env,
            f"{base}/health",
        )
        bare_port = free_port()
        processes.start(
            "bare-app",
            uvicorn_command("reference_apps:bare_app", bare_port, BENCH_DIR),
            {**app_env, "BENCH_APP": "bare"},
            f"http://127.0.0.1:{bare_port}/docs",
        )
        ceiling_port = free_port()
        processes.start(
            "ceiling",
            [sys.executable, str(BENCH_DIR / "reference_apps.py"), str(ceiling_port)],
            app_env,
            f"http://127.0.0.1:{ceiling_port}/",
        )
        record = telco_model.sample_record(metadata)
        body = work / "record.json"
        body.write_text(json.dumps({"record": record}))
        internal = {"X-Internal-Token": env["INTERNAL_TOKEN"], "X-User-Id": owner}
        internal_lines = [f"{k}: {v}" for k, v in internal.items()]
        predict_path = f"/api/v1/models/{model_id}/predict"
        check = httpx.post(f"{base}{predict_path}", content=body.read_bytes(),
                           headers={**internal, "Content-Type": "application/json"})  # fmt: skip
        check.raise_for_status()

        seconds = args.seconds
        single = results["single_row"]
        single["load generator ceiling"] = sweep(
            "generator ceiling", f"http://127.0.0.1:{ceiling_port}/", body, [], seconds
        )
        single["bare FastAPI + onnxruntime"] = sweep(
            "bare app", f"http://127.0.0.1:{bare_port}/predict", body, [], seconds
        )
        single["inference, direct"] = sweep(
            "inference direct", f"{base}{predict_path}", body, internal_lines, seconds
        )
        if gateway_mode:
            key_header = [f"X-API-Key: {args.api_key}"]
            single["inference via gateway"] = sweep(
                "via gateway", f"{args.gateway_url}{predict_path}", body, key_header,
                seconds,
            )  # fmt: skip
            fixed = load(
                f"{args.gateway_url}{predict_path}", body, key_header, 64,
                max(seconds, 10.0), rate=200,
            )  # fmt: skip
            results["gateway_at_200_rps"] = fixed
            say(f"gateway at 200 req/s: p99 {fixed.get('p99_ms')} ms")
        session = open_session(onnx_bytes)
        in_process = in_process_single(session, feed_from_record(metadata, record), 3)
        single["in-process onnxruntime"] = {"1": in_process}
        say(f"in-process onnxruntime: {in_process}")
        if args.skip_mlflow:
            single["mlflow models serve"] = {"error": "skipped (--skip-mlflow)"}
        else:
            say("installing and serving the same pipeline with mlflow models serve")
            mlflow_record = {
                k: (v if v is not None else np.nan) for k, v in record.items()
            }
            single["mlflow models serve"] = try_mlflow(
                pipeline, mlflow_record, work, processes, seconds
            )

        say(f"batch prediction of a {args.batch_rows}-row CSV")
        csv_path = work / "batch.csv"
        telco_model.write_batch_csv(csv_path, args.batch_rows)
        batch = {
            "in_process_1000_row_batches": in_process_batch(
                session, metadata, csv_path, 1000
            ),
            "in_process_10000_row_batches": in_process_batch(
                session, metadata, csv_path, 10_000
            ),
            "inference_direct": post_batch(
                f"{base}{predict_path}/batch", csv_path, internal
            ),
        }
        if gateway_mode:
            batch["inference_via_gateway"] = post_batch(
                f"{args.gateway_url}{predict_path}/batch",
                csv_path,
                {"X-API-Key": args.api_key},
            )
        results["batch"] = batch
        say(f"batch: {json.dumps(batch)}")

        say("restarting the inference process to time its first predictions")
        time.sleep(1.5)  # lets the recent-models write reach Redis
        results["restart"] = first_vs_hundredth(
            processes, env, inference_port, f"{base}{predict_path}",
            body.read_bytes(), internal,
        )  # fmt: skip
        say(f"restart: {results['restart']}")

        bare_peak = peak_rps(single["bare FastAPI + onnxruntime"])
        ratios = {
            "load generator ceiling, peak req/s": peak_rps(
                single["load generator ceiling"]
            ),
            "direct / bare app, peak req/s (target through gateway >= 0.5)": ratio(
                peak_rps(single["inference, direct"]), bare_peak
            ),
            "batch end to end / in-process 1,000-row batches, rows/s (target >= 0.5)": ratio(
                batch["inference_direct"].get("rows_per_s"),
                batch["in_process_1000_row_batches"]["rows_per_s"],
            ),
            "batch end to end / in-process 10,000-row batches, rows/s": ratio(
                batch["inference_direct"].get("rows_per_s"),
                batch["in_process_10000_row_batches"]["rows_per_s"],
            ),
            "first / hundredth prediction after restart": ratio(
                results["restart"]["first_ms"], results["restart"]["hundredth_ms"]
            ),
            "mlflow models serve / bare app, peak req/s": ratio(
                peak_rps(single["mlflow models serve"]), bare_peak
            ),
        }
        if gateway_mode:
            ratios["gateway / bare app, peak req/s (target >= 0.5)"] = ratio(
                peak_rps(single["inference via gateway"]), bare_peak
            )
            ratios["gateway p99 at 200 req/s, ms (target < 10)"] = results[
                "gateway_at_200_rps"
            ].get("p99_ms")
        else:
            ratios["gateway"] = "not measured: pass --gateway-url and --api-key"
        results["ratios"] = ratios

    args.output_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    json_path = args.output_dir / f"inference-{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2))
    md_path = args.output_dir / f"inference-{stamp}.md"
    md_path.write_text(markdown(results))
    print(markdown(results))
    say(f"results written to {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
