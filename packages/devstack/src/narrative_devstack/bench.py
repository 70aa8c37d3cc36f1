"""Measure the platform against its performance targets: `make bench`.

Starts its own stack on free loopback ports (never the developer's running
one), then measures in this order:

1. single-row and batch prediction, by running the inference benchmark
   (services/inference/bench/bench_inference.py) against this stack's
   gateway. It sweeps concurrency 1, 16 and 64 on the gateway, the inference
   service, a bare FastAPI app calling onnxruntime, `mlflow models serve` and
   in-process onnxruntime. It also runs the gateway at a fixed 200
   requests/s and a 100,000-row CSV end to end;
2. the CPU time of a gateway prediction in Traefik, the gateway app and the
   inference service, and the peak and batch comparisons again, in
   alternating runs against their references;
3. the first and the hundredth prediction through the gateway after
   `stack.restart("inference")`;
4. the upload and profile of a 1,000,000-row, 20-column CSV through the
   gateway, with the datasets process's peak RSS.

Then it stops the stack and measures what needs no stack: ydata-profiling's
minimal and full reports on the same CSV (in var/bench-venv) and the training
overhead (services/training/bench_overhead.py, which starts its own MongoDB,
Redis and S3).

Prints a table of measured values, references, ratios and PASS/FAIL per
target, and writes bench-results/<time>.json and .md. `--quick` shortens
every phase; see `--help`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from narrative_devstack.stack import REPO_ROOT, Stack, StackConfig

INFERENCE_BENCH_DIR = REPO_ROOT / "services" / "inference" / "bench"
TRAINING_BENCH = REPO_ROOT / "services" / "training" / "bench_overhead.py"
BENCH_USER = "bench"
FULL_INGEST_ROWS = 1_000_000
QUICK_YDATA_ROWS = 200_000

# The bench code lives outside the installed packages: bench/ at the repo root
# and the inference benchmark's folder.
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(INFERENCE_BENCH_DIR))

from bench import ingest  # noqa: E402
from bench.report import evaluate_targets, markdown_report  # noqa: E402


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def machine() -> dict:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "note": "shared machine: other processes may run at the same time",
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


# Prediction -----------------------------------------------------------------


def train_model(gateway_url: str, api_key: str) -> str:
    """Upload Telco churn and train a random forest through the public API."""
    import bench_inference

    return bench_inference.train_through_gateway(gateway_url, api_key)


def run_inference_bench(
    stack: Stack, api_key: str, model_id: str, work: Path, args: argparse.Namespace
) -> dict:
    """Run the inference benchmark in gateway mode and return its JSON results."""
    output_dir = work / "inference"
    command = [
        sys.executable,
        str(INFERENCE_BENCH_DIR / "bench_inference.py"),
        "--gateway-url", stack.config.url("traefik"),
        "--api-key", api_key,
        "--user", BENCH_USER,
        "--model-id", model_id,
        "--seconds", str(args.seconds),
        "--batch-rows", str(args.batch_rows),
        "--output-dir", str(output_dir),
    ]  # fmt: skip
    if args.skip_mlflow:
        command.append("--skip-mlflow")
    env = {**os.environ, **stack.config.env()}
    # Bounded: 5 sweeps of 3 points plus the fixed-rate run, the batch and the
    # MLflow install take well under this on 2 cores.
    result = subprocess.run(command, env=env, timeout=3600, check=False)
    found = sorted(output_dir.glob("inference-*.json"))
    if result.returncode != 0 or not found:
        return {"error": f"the inference benchmark exited with {result.returncode}"}
    return json.loads(found[-1].read_text())


def cpu_per_request(
    stack: Stack, api_key: str, model_id: str, body_path: Path, seconds: float
) -> dict:
    """Split the CPU time of gateway predictions among the processes that serve them.

    Runs the load generator at concurrency 16 through the gateway and reads
    each process's CPU time (user + system, children included) before and
    after, so the cost of Traefik and the ForwardAuth call shows next to the
    inference service's own.
    """
    import bench_inference
    import psutil

    names = ("traefik", "gateway", "inference")
    processes = {name: psutil.Process(stack.processes[name].pid) for name in names}

    def cpu_seconds() -> dict[str, float]:
        totals = {}
        for name, process in processes.items():
            times = process.cpu_times()
            totals[name] = sum(
                (times.user, times.system, times.children_user, times.children_system)
            )
        return totals

    url = f"{stack.config.url('traefik')}/api/v1/models/{model_id}/predict"
    before = cpu_seconds()
    point = bench_inference.load(url, body_path, [f"X-API-Key: {api_key}"], 16, seconds)
    after = cpu_seconds()
    requests = point.get("requests") or 0
    if not requests:
        return {"error": point.get("error", "no request completed")}
    per_request = {
        name: round((after[name] - before[name]) / requests * 1000, 3) for name in names
    }
    return {"load": point, "cpu_ms_per_request": per_request}


def paired_peak(
    stack: Stack, api_key: str, model_id: str, work: Path, body_path: Path, args
) -> dict:
    """Compare the gateway with its references in alternating runs.

    On a shared machine the load changes from one minute to the next, so the
    comparisons alternate. Each round measures the bare app, then the
    gateway, at concurrency 16 and 64. Then it runs in-process onnxruntime on
    the batch CSV in 1,000-row batches and sends the same CSV through the
    gateway. Medians over the rounds are compared.
    """
    import bench_inference
    import telco_model

    env = {**os.environ, **stack.config.env()}
    # stack_model reads the stack's settings from os.environ.
    saved_environ = dict(os.environ)
    os.environ.update(stack.config.env())
    try:
        metadata, onnx_bytes = bench_inference.stack_model(model_id, BENCH_USER)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
    model_dir = work / "paired-model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.onnx").write_bytes(onnx_bytes)
    (model_dir / "metadata.json").write_text(json.dumps(metadata))
    processes = bench_inference.Processes(work)
    port = bench_inference.free_port()
    bare_url = f"http://127.0.0.1:{port}/predict"
    processes.start(
        "paired-bare-app",
        bench_inference.uvicorn_command(
            "reference_apps:bare_app", port, INFERENCE_BENCH_DIR
        ),
        {**env, "BENCH_APP": "bare", "BENCH_MODEL_DIR": str(model_dir)},
        f"http://127.0.0.1:{port}/docs",
    )
    targets = {
        "bare": (bare_url, []),
        "gateway": (
            f"{stack.config.url('traefik')}/api/v1/models/{model_id}/predict",
            [f"X-API-Key: {api_key}"],
        ),
    }
    session = bench_inference.open_session(onnx_bytes)
    batch_csv = work / "paired-batch.csv"
    telco_model.write_batch_csv(batch_csv, args.batch_rows)
    batch_url = f"{targets['gateway'][0]}/batch"
    batch_runs: dict[str, list[float]] = {"in_process": [], "gateway": []}
    runs: dict[str, dict[str, list[float]]] = {name: {} for name in targets}
    try:
        for round_number in range(args.paired_rounds):
            for concurrency in (16, 64):
                for name, (url, headers) in targets.items():
                    point = bench_inference.load(
                        url, body_path, headers, concurrency, args.seconds
                    )
                    rps = 0.0 if point.get("errors") else point.get("rps", 0.0)
                    runs[name].setdefault(str(concurrency), []).append(rps)
            in_process = bench_inference.in_process_batch(
                session, metadata, batch_csv, 1000
            )
            batch_runs["in_process"].append(in_process["rows_per_s"])
            end_to_end = bench_inference.post_batch(
                batch_url, batch_csv, {"X-API-Key": api_key}
            )
            batch_runs["gateway"].append(end_to_end.get("rows_per_s", 0.0))
            say(f"paired round {round_number + 1}: {runs} batch rows/s {batch_runs}")
    finally:
        processes.stop_all()
    medians = {
        name: {c: statistics.median(values) for c, values in points.items()}
        for name, points in runs.items()
    }
    return {
        "rounds": args.paired_rounds,
        "seconds_per_run": args.seconds,
        "rps_runs": runs,
        "median_rps": medians,
        "peak_median_rps": {
            name: max(points.values()) for name, points in medians.items()
        },
        "batch_rows": args.batch_rows,
        "batch_rows_per_s_runs": batch_runs,
        "batch_median_rows_per_s": {
            name: statistics.median(values) for name, values in batch_runs.items()
        },
    }


def first_and_hundredth(
    stack: Stack, api_key: str, model_id: str, body: bytes, rounds: int
) -> dict:
    """Restart the inference process, wait for its preload, time 100 predictions.

    Each round restarts the process and waits until its preload reports done.
    The preload state is read from the service directly, so no request warms
    the gateway's route to it. A health call opens the client's connection to
    Traefik, then 100 predictions go through the gateway one after another.
    """
    gateway = stack.config.url("traefik")
    inference = stack.config.url("inference")
    internal = {
        "X-Internal-Token": stack.config.internal_token,
        "X-User-Id": BENCH_USER,
    }
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    path = f"/api/v1/models/{model_id}/predict"
    rounds_out = []
    for _ in range(rounds):
        stack.restart("inference")
        preload = wait_for_preload(f"{inference}/api/v1/models/cache/status", internal)
        client_ms, server_ms = [], []
        with httpx.Client(base_url=gateway, timeout=30) as client:
            client.get("/health").raise_for_status()
            for _ in range(100):
                started = time.perf_counter()
                response = client.post(path, content=body, headers=headers)
                client_ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                server_ms.append(response.json()["latency_ms"])
        rounds_out.append(
            {
                "preload": preload,
                "first_ms": round(client_ms[0], 3),
                "hundredth_ms": round(client_ms[99], 3),
                "median_2_to_100_ms": round(statistics.median(client_ms[1:]), 3),
                "server_first_ms": server_ms[0],
                "server_hundredth_ms": server_ms[99],
            }
        )
        say(f"after restart: {rounds_out[-1]}")
    return {
        "rounds": rounds_out,
        "median_first_ms": statistics.median(r["first_ms"] for r in rounds_out),
        "median_hundredth_ms": statistics.median(r["hundredth_ms"] for r in rounds_out),
    }


def wait_for_preload(status_url: str, headers: dict, timeout_seconds: float = 60):
    deadline = time.monotonic() + timeout_seconds
    preload: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(status_url, headers=headers, timeout=5)
        preload = response.json()["preload"]
        if preload["state"] == "done":
            return preload
        time.sleep(0.1)
    return {**preload, "note": f"not done after {timeout_seconds:g} s"}


# Ingestion ------------------------------------------------------------------


def ingest_through_gateway(stack: Stack, api_key: str, csv_path: Path) -> dict:
    return ingest.upload_and_profile(
        stack.config.url("traefik"),
        api_key,
        csv_path,
        stack.processes["datasets"].pid,
        stack.config.url("datasets"),
    )


def ydata_references(csv_path: Path, quick: bool) -> dict:
    """Time ydata-profiling's minimal and full reports, scaled up in quick mode."""
    try:
        python = ingest.ensure_ydata_venv()
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        say(f"ydata-profiling not measured: {exc}")
        return {"error": str(exc)}
    rows = QUICK_YDATA_ROWS if quick else None
    scale = FULL_INGEST_ROWS / QUICK_YDATA_ROWS if quick else 1.0
    references = {}
    for mode in ("minimal", "full"):
        say(f"ydata-profiling {mode} report on {rows or FULL_INGEST_ROWS} rows")
        result = ingest.ydata_report(python, csv_path, mode, rows, 3600)
        if "error" not in result:
            result["scale"] = scale
            result["report_seconds_for_full_file"] = round(
                result["report_seconds"] * scale, 3
            )
        say(f"ydata-profiling {mode}: {result}")
        references[mode] = result
    return references


# Training -------------------------------------------------------------------


def training_overhead(repeats: int) -> dict:
    """Run services/training/bench_overhead.py and return its JSON output."""
    command = [sys.executable, str(TRAINING_BENCH), "--repeats", str(repeats)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        return {"error": f"bench_overhead.py failed: {result.stderr.strip()[-500:]}"}
    start = result.stdout.find("{")
    return json.loads(result.stdout[start:])


# Run ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m narrative_devstack.bench",
        description="Measure the platform against its targets on a stack of its own.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 s per load point, one restart round, no mlflow, ydata-profiling "
        f"on {QUICK_YDATA_ROWS:,} rows scaled to {FULL_INGEST_ROWS:,}, "
        "one training repeat",
    )
    parser.add_argument("--seconds", type=float, help="seconds per load point")
    parser.add_argument(
        "--batch-rows", type=int, default=100_000, help="rows in the batch CSV"
    )
    parser.add_argument(
        "--restart-rounds", type=int, help="inference restarts to time (default 3)"
    )
    parser.add_argument(
        "--training-repeats", type=int, help="training jobs to time (default 3)"
    )
    parser.add_argument(
        "--paired-rounds",
        type=int,
        help="rounds of alternating runs for the peak and batch ratios (default 3)",
    )
    parser.add_argument(
        "--skip-mlflow",
        action="store_true",
        help="do not install and serve the model with `mlflow models serve`",
    )
    parser.add_argument(
        "--phases",
        default="prediction,restart,ingest,training",
        help="comma-separated subset of prediction, restart, ingest, training",
    )
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "bench-results")
    args = parser.parse_args(argv)
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if args.seconds is None:
        args.seconds = 2.0 if args.quick else 6.0
    if args.restart_rounds is None:
        args.restart_rounds = 1 if args.quick else 3
    if args.paired_rounds is None:
        args.paired_rounds = 1 if args.quick else 3
    if args.training_repeats is None:
        args.training_repeats = 1 if args.quick else 3
    args.skip_mlflow = args.skip_mlflow or args.quick
    return args


def run(args: argparse.Namespace) -> dict:
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = REPO_ROOT / "var" / "bench" / stamp
    results: dict = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": args.quick,
        "arguments": {
            k: sorted(v) if isinstance(v, set) else str(v)
            for k, v in vars(args).items()
        },  # fmt: skip
        "work_dir": str(work),
    }
    csv_path = REPO_ROOT / "var" / "bench-data" / f"bank-{FULL_INGEST_ROWS}.csv"
    stack_phases = {"prediction", "restart", "ingest"} & args.phases
    if stack_phases:
        say(f"starting a stack on free ports under {work}")
        stack = Stack(StackConfig.on_free_ports(work / "stack"))
        stack.start(on_ready=say)
        try:
            measure_on_stack(stack, args, work, csv_path, results)
        finally:
            say("stopping the stack")
            stack.stop()
    if "ingest" in args.phases:
        results["ydata"] = ydata_references(csv_path, args.quick)
    if "training" in args.phases:
        say(f"training overhead, {args.training_repeats} repeat(s)")
        results["training"] = training_overhead(args.training_repeats)
        say(f"training: {results['training']}")
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"]["load_average_at_end"] = [
        round(value, 2) for value in os.getloadavg()
    ]
    results["targets"] = evaluate_targets(results)
    return results


def measure(function, *args) -> dict:
    """Run one measurement; on an error, keep it in the results and go on."""
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - one failed phase must not lose the rest
        say(f"{function.__name__} failed: {exc!r}")
        return {"error": f"{function.__name__} failed: {exc!r}"}


def measure_on_stack(
    stack: Stack, args: argparse.Namespace, work: Path, csv_path: Path, results: dict
) -> None:
    api_key = stack.api_key(BENCH_USER)
    model_id = None
    if {"prediction", "restart"} & args.phases:
        say("training the Telco random forest through the gateway")
        model_id = train_model(stack.config.url("traefik"), api_key)
        results["model_id"] = model_id
    if "prediction" in args.phases:
        results["prediction"] = run_inference_bench(
            stack, api_key, model_id, work, args
        )
    if {"prediction", "restart"} & args.phases:
        import telco_model

        record = telco_model.sample_record(
            {"input_schema": model_inputs(stack, model_id)}
        )
        body = json.dumps({"record": record}).encode()
        body_path = work / "record.json"
        body_path.write_bytes(body)
    if "prediction" in args.phases:
        say("CPU time per gateway prediction, by process")
        results["cpu_per_request"] = measure(
            cpu_per_request, stack, api_key, model_id, body_path, max(args.seconds, 5)
        )
        say(f"CPU per request: {results['cpu_per_request']}")
        say(f"gateway and bare app in alternation, {args.paired_rounds} round(s)")
        results["paired_peak"] = measure(
            paired_peak, stack, api_key, model_id, work, body_path, args
        )
    if "restart" in args.phases:
        say(f"restarting inference {args.restart_rounds} time(s)")
        results["restart"] = measure(
            first_and_hundredth, stack, api_key, model_id, body, args.restart_rounds
        )
    if "ingest" in args.phases:
        say("building the ingestion CSV (kept in var/bench-data between runs)")
        results["ingest_file"] = ingest.build_csv(csv_path, FULL_INGEST_ROWS)
        say(f"uploading {results['ingest_file']['bytes']:,} bytes through the gateway")
        results["ingest"] = measure(ingest_through_gateway, stack, api_key, csv_path)
        say(f"ingest: {results['ingest']}")


def model_inputs(stack: Stack, model_id: str) -> list[dict]:
    response = httpx.get(
        f"{stack.config.url('training')}/internal/v1/models/{model_id}",
        headers={
            "X-Internal-Token": stack.config.internal_token,
            "X-User-Id": BENCH_USER,
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["input_schema"]


def write_results(results: dict, output_dir: Path) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace("-", "").replace(":", "")[:15] + "Z"
    json_path = output_dir / f"{stamp}.json"
    md_path = output_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str))
    md_path.write_text(markdown_report(results))
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    json_path, md_path = write_results(results, args.output_dir)
    print(markdown_report(results))
    say(f"results written to {json_path} and {md_path}")
    failed = [t for t in results["targets"] if t["status"] != "PASS"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
