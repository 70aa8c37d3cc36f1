"""Ingestion benchmark: upload and profile a large CSV through the gateway and
time ydata-profiling on the same file.

`build_csv` makes the file: 1,000,000 rows sampled with replacement from the
bank-marketing data (17 columns) plus three added columns (a derived float, a
float with 5% missing values and a 12-value category), 20 columns and about
100 MB. Without that data set it writes a synthetic file with the same column
types. `upload_and_profile` sends it through the gateway and samples the
datasets process's resident memory meanwhile; `ydata_report` times
ydata-profiling in its own virtualenv (see bench/ydata_report.py).
"""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
BANK_CSV = REPO_ROOT / ".." / "shared" / "datasets" / "bank-marketing.csv"
YDATA_VENV = REPO_ROOT / "var" / "bench-venv"
# ydata-profiling 4.18 imports pkg_resources: setuptools 80.10 has it, 84.2 does not.
YDATA_PACKAGES = ["ydata-profiling", "pandas<3", "numpy<2.4", "setuptools<81", "psutil"]
REGIONS = [f"region-{index:02d}" for index in range(12)]


def build_csv(path: Path, rows: int, seed: int = 7) -> dict:
    """Write the benchmark CSV unless a file of that name exists; return its facts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        if BANK_CSV.exists():
            source = pl.read_csv(BANK_CSV)
            frame = source[rng.integers(0, source.height, rows)]
            origin = "bank-marketing.csv, rows sampled with replacement"
        else:
            frame = _synthetic_bank(rng, rows)
            origin = "synthetic, bank-marketing column types"
        frame = _add_columns(frame, rng)
        partial = path.with_suffix(".partial")
        frame.write_csv(partial)
        partial.rename(path)
        (path.with_suffix(".origin")).write_text(origin)
    origin_file = path.with_suffix(".origin")
    header = path.open().readline().rstrip("\n").split(",")
    return {
        "path": str(path),
        "rows": rows,
        "columns": len(header),
        "bytes": path.stat().st_size,
        "origin": origin_file.read_text() if origin_file.exists() else "unknown",
    }


def _add_columns(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    rows = frame.height
    income = np.round(rng.lognormal(10.3, 0.5, rows), 2)
    income_missing = rng.random(rows) < 0.05
    return frame.with_columns(
        (pl.col("balance") / pl.col("campaign")).round(3).alias("balance_per_contact"),
        pl.Series("income_estimate", income).set(pl.Series(income_missing), None),
        pl.Series("region", np.array(REGIONS)[rng.integers(0, len(REGIONS), rows)]),
    )


def _synthetic_bank(rng: np.random.Generator, rows: int) -> pl.DataFrame:
    def pick(values: list[str]) -> np.ndarray:
        return np.array(values)[rng.integers(0, len(values), rows)]

    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct"]
    return pl.DataFrame(
        {
            "age": rng.integers(18, 95, rows),
            "job": pick(["admin.", "blue-collar", "management", "technician"]),
            "marital": pick(["married", "single", "divorced"]),
            "education": pick(["primary", "secondary", "tertiary", "unknown"]),
            "default": pick(["yes", "no"]),
            "balance": rng.integers(-8000, 100_000, rows),
            "housing": pick(["yes", "no"]),
            "loan": pick(["yes", "no"]),
            "contact": pick(["cellular", "telephone", "unknown"]),
            "day": rng.integers(1, 32, rows),
            "month": pick(months),
            "duration": rng.integers(0, 5000, rows),
            "campaign": rng.integers(1, 64, rows),
            "pdays": rng.integers(-1, 872, rows),
            "previous": rng.integers(0, 276, rows),
            "poutcome": pick(["unknown", "failure", "other", "success"]),
            "subscribe": rng.integers(0, 2, rows),
        }
    )


class RssSampler:
    """Sample a process's resident memory, children included, in a thread."""

    def __init__(self, pid: int, interval_seconds: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval_seconds = interval_seconds
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_bytes(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self.rss_bytes())
            except psutil.NoSuchProcess:
                return
            self.samples += 1
            self._stop.wait(self.interval_seconds)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(5)


def stage_seconds(datasets_url: str) -> dict[str, float]:
    """Return the datasets service's total seconds per ingestion stage so far."""
    text = httpx.get(f"{datasets_url}/metrics", timeout=10).text
    totals = {}
    for line in text.splitlines():
        if line.startswith("datasets_ingest_duration_seconds_sum{"):
            labels, _, value = line.rpartition(" ")
            stage = labels.split('stage="', 1)[1].split('"', 1)[0]
            totals[stage] = float(value)
    return totals


def upload_and_profile(
    gateway_url: str,
    api_key: str,
    csv_path: Path,
    datasets_pid: int,
    datasets_url: str,
) -> dict:
    """Upload the CSV through the gateway and check what the datasets service stored.

    The upload returns its response only after the raw object is stored and
    the file is parsed, typed, profiled and written as Parquet, so its
    duration is the end-to-end time. Peak RSS covers the datasets process from before the upload starts
    until the response arrives.
    """
    headers = {"X-API-Key": api_key}
    stages_before = stage_seconds(datasets_url)
    sampler = RssSampler(datasets_pid)
    idle_bytes = sampler.rss_bytes()
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=900) as client:
        with sampler, csv_path.open("rb") as handle:
            started = time.perf_counter()
            response = client.post(
                "/api/v1/datasets",
                files={"file": (csv_path.name, handle, "text/csv")},
            )
            seconds = time.perf_counter() - started
        if response.status_code != 201:
            return {
                "error": f"upload: HTTP {response.status_code}: {response.text[:300]}"
            }
        dataset = response.json()
        profile = client.get(f"/api/v1/datasets/{dataset['id']}/profile")
        if profile.status_code != 200:
            return {
                "error": f"profile: HTTP {profile.status_code}: {profile.text[:300]}"
            }
        correlations = profile.json()["correlations"]
        preview = client.get(
            f"/api/v1/datasets/{dataset['id']}/preview", params={"limit": 5}
        )
    stages = {
        stage: round(total - stages_before.get(stage, 0.0), 3)
        for stage, total in stage_seconds(datasets_url).items()
    }
    return {
        "seconds": round(seconds, 3),
        "rows": dataset["rows"],
        "columns": dataset["column_count"],
        "status": dataset["status"],
        "correlation_columns": len(correlations.get("columns", [])),
        "preview_status": preview.status_code,
        "idle_rss_mb": round(idle_bytes / 2**20, 1),
        "peak_rss_mb": round(sampler.peak_bytes / 2**20, 1),
        "peak_delta_mb": round((sampler.peak_bytes - idle_bytes) / 2**20, 1),
        "rss_samples": sampler.samples,
        "stage_seconds": stages,
    }


def ensure_ydata_venv() -> Path:
    """Return the python of var/bench-venv, creating it with uv when missing."""
    python = YDATA_VENV / "bin" / "python"
    check = [str(python), "-c", "import ydata_profiling"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH, so ydata-profiling cannot be installed")
    steps = [
        [uv, "venv", "--quiet", "--clear", "--python", "3.11", str(YDATA_VENV)],
        [uv, "pip", "install", "--quiet", "--python", str(python), *YDATA_PACKAGES],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(step[:3])}` failed: {result.stderr.strip()[-500:]}"
            )
    return python


def ydata_report(
    python: Path, csv_path: Path, mode: str, rows: int | None, timeout_seconds: float
) -> dict:
    """Run one ydata-profiling report in a subprocess and sample its peak RSS."""
    command = [str(python), str(BENCH_DIR / "ydata_report.py"), str(csv_path)]
    command += ["--mode", mode]
    if rows is not None:
        command += ["--rows", str(rows)]
    env = {**os.environ, "YDATA_PROFILING_NO_ANALYTICS": "True", "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        with RssSampler(process.pid, 0.1) as sampler:
            stdout, stderr = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"error": f"ydata-profiling {mode} took over {timeout_seconds:g} s"}
    if process.returncode != 0:
        return {"error": f"ydata-profiling {mode} failed: {stderr.strip()[-500:]}"}
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 3)
    result["peak_rss_mb"] = round(sampler.peak_bytes / 2**20, 1)
    return result
