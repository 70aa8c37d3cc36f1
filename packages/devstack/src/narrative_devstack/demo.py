"""The analyst's workflow, end to end through the gateway, on a real table.

Usage: python -m narrative_devstack.demo [CSV TARGET]

With no arguments it uses the Telco churn data beside the project when it
exists, and scikit-learn's breast-cancer table otherwise. The last rows of
the table are kept out of the upload, so the predictions at the end are made
on rows the model never saw.
"""

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from narrative_devstack import background
from narrative_devstack.cli import StackSettings
from narrative_devstack.stack import REPO_ROOT

SHARED_TELCO = REPO_ROOT.parent / "shared" / "datasets" / "telco-customer-churn.csv"
HELD_OUT_ROWS = 5
JOB_TIMEOUT_SECONDS = 900


def say(message: str = "") -> None:
    print(message, flush=True)


def step(title: str) -> None:
    say()
    say(f"== {title}")


class DemoError(RuntimeError):
    pass


def choose_table(args: argparse.Namespace, work_dir: Path) -> tuple[Path, str]:
    if args.csv:
        path = Path(args.csv).expanduser().resolve()
        if not path.exists():
            raise DemoError(f"{path} does not exist")
        if not args.target:
            raise DemoError("give the target column after the CSV path")
        return path, args.target
    if SHARED_TELCO.exists():
        return SHARED_TELCO, "Churn"
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    path = work_dir / "breast-cancer.csv"
    frame.to_csv(path, index=False)
    return path, "target"


def split_held_out(path: Path, work_dir: Path) -> tuple[Path, list[dict[str, str]]]:
    """Write all but the last rows to a new file and return those rows."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    if len(body) <= HELD_OUT_ROWS * 4:
        raise DemoError(f"{path} has too few rows for a demo ({len(body)})")
    upload = work_dir / path.name
    with upload.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body[:-HELD_OUT_ROWS])
    held_out = [dict(zip(header, row, strict=True)) for row in body[-HELD_OUT_ROWS:]]
    return upload, held_out


def create_key(user: str, settings: StackSettings) -> str:
    env_lines = subprocess.run(
        [sys.executable, "-m", "narrative_devstack.cli", "env"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    env = dict(line.split("=", 1) for line in env_lines)
    result = subprocess.run(
        [sys.executable, "-m", "narrative_gateway.keys", "create", "--user", user],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise DemoError(f"creating an API key failed: {result.stderr.strip()}")
    return result.stdout.strip()


def check(
    response: httpx.Response, expected: tuple[int, ...] = (200, 201, 202)
) -> dict:
    if response.status_code not in expected:
        raise DemoError(
            f"{response.request.method} {response.request.url.path} returned "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def upload(client: httpx.Client, path: Path) -> dict:
    size = path.stat().st_size
    say(f"uploading {path.name} ({size / 1e6:.1f} MB)")
    start = time.perf_counter()
    with path.open("rb") as handle:
        response = client.post(
            "/api/v1/datasets", files={"file": (path.name, handle, "text/csv")}
        )
    dataset = check(response)
    say(f"stored, parsed, typed and profiled in {time.perf_counter() - start:.1f} s")
    return dataset


def show_profile(client: httpx.Client, dataset: dict) -> dict:
    profile = check(client.get(f"/api/v1/datasets/{dataset['id']}/profile"))
    columns = dataset["columns"]
    say(f"rows: {dataset['rows']}, columns: {len(columns)}")
    by_type: dict[str, list[str]] = {}
    for column in columns:
        by_type.setdefault(column["type"], []).append(column["name"])
    for column_type, names in sorted(by_type.items()):
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        say(f"  {column_type:<12} {len(names):>3}  {shown}")
    missing = sorted(
        (c for c in columns if c.get("missing")), key=lambda c: -c["missing"]
    )
    for column in missing[:5]:
        say(f"  missing: {column['name']} has {column['missing']} empty values")
    quality = profile["quality"]
    say(f"quality score: {quality['score']:.0f}/100")
    for reason in quality["reasons"][:5]:
        say(f"  - {reason['message']}")
    pii = dataset["profile_summary"]["pii_columns"]
    if pii:
        say(f"personal data detected in: {', '.join(pii)}")
    return profile


def show_narrative(client: httpx.Client, subject: str, subject_id: str) -> None:
    response = client.post(f"/api/v1/analysis/{subject}/{subject_id}")
    if response.status_code >= 400:
        say(f"(analysis unavailable: {response.status_code} {response.text[:200]})")
        return
    analysis = response.json()
    result = analysis["result"]
    fallback = analysis.get("fallback_reason")
    note = f" ({fallback})" if fallback else ""
    say(f"written by the {analysis['analyzer']} analyzer{note}")
    say(result["summary"])
    for finding in result["key_findings"][:5]:
        say(f"  - {finding['title']}: {finding['detail']}")
    for risk in result["data_quality_risks"][:4]:
        say(f"  risk: {risk['title']}")
    for recommendation in result.get("recommended_targets", [])[:2]:
        say(f"  target idea: {recommendation['column']}: {recommendation['reason']}")
    for driver in result.get("prediction_drivers", [])[:4]:
        say(f"  driver: {driver['feature']}: {driver['explanation']}")
    for weakness in result.get("weaknesses", [])[:3]:
        say(f"  weak spot: {weakness['title']}: {weakness['detail']}")


def train(client: httpx.Client, dataset_id: str, target: str) -> dict:
    job = check(
        client.post(
            "/api/v1/training/jobs",
            json={"dataset_id": dataset_id, "target": target, "model_type": "auto"},
        )
    )
    say(f"job {job['id']} queued; training several model types with cross-validation")
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    shown = None
    while time.monotonic() < deadline:
        job = check(client.get(f"/api/v1/training/jobs/{job['id']}"))
        progress = (job["state"], job["progress"]["stage"])
        if progress != shown:
            shown = progress
            percent = f"{100 * job['progress']['fraction']:.0f}%"
            say(f"  {percent:>4} {job['state']}: {job['progress']['stage']}")
        if job.get("state") in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(1)
    if job.get("state") != "succeeded":
        raise DemoError(f"training ended as {job['state']}: {job.get('message')}")
    for warning in job["warnings"]:
        say(f"  warning: {warning['message']}")
    return job


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else str(value)


def show_model(client: httpx.Client, model_id: str) -> dict:
    model = check(client.get(f"/api/v1/models/{model_id}"))
    selection = model["selection_metric"]
    say(f"chosen: {model['model_type']} ({model['problem_type']}), by {selection}")
    say(f"leaderboard (cross-validated {selection}, mean of the folds):")
    for entry in model["leaderboard"]:
        say(f"  {entry['model_type']:<22} {_number(entry['score'])}")
    rows = model["rows"]
    say(
        f"held-out metrics on {rows['test']} rows "
        f"(trained on {rows['train']}), beside a naive baseline:"
    )
    baseline = model["baseline_metrics"]
    for name, value in model["metrics"].items():
        say(
            f"  {name:<10} {_number(value['test'])}"
            f"   baseline {_number(baseline.get(name, '-'))}"
        )
    top = model["feature_importances"][:5]
    if top:
        method = top[0]["method"]
        say(f"most important columns ({method} importance, share of the total):")
        for item in top:
            say(f"  {item['name']:<22} {item['importance']:.1%}")
    return model


def predict(client: httpx.Client, model: dict, rows: list[dict], target: str) -> None:
    schema = {column["name"]: column for column in model.get("input_schema", [])}
    records = []
    for row in rows:
        record = {}
        for name, column in schema.items():
            value = row.get(name, "")
            if column.get("type") == "numeric":
                try:
                    record[name] = float(value) if value.strip() else None
                except ValueError:
                    record[name] = None
            else:
                record[name] = value
        records.append(record)
    body = check(
        client.post(f"/api/v1/models/{model['id']}/predict", json={"records": records})
    )
    for row, prediction in zip(rows, body["predictions"], strict=True):
        probabilities = prediction.get("probabilities") or {}
        confidence = max(probabilities.values()) if probabilities else None
        shown = f" (p={confidence:.2f})" if confidence is not None else ""
        say(f"  predicted {prediction['prediction']}{shown}, actual {row.get(target)}")


def run(args: argparse.Namespace) -> None:
    settings = StackSettings()
    work_dir = settings.data_dir.resolve() / "demo"
    work_dir.mkdir(parents=True, exist_ok=True)
    gateway = background.gateway_url(settings)

    step("1. Local stack")
    if background.is_up(settings):
        say(f"already running at {gateway}")
    else:
        say(
            "starting MongoDB (SecantusDB), Redis, S3 (SeaweedFS), the services and Traefik"
        )
        background.start(settings, say=say)
        say(f"running at {gateway}; logs under {settings.data_dir.resolve() / 'log'}")

    step("2. API key")
    key = create_key(args.user, settings)
    say(f"created a key for {args.user}: {key[:7]}... (send it as X-API-Key)")

    source, target = choose_table(args, work_dir)
    upload_path, held_out = split_held_out(source, work_dir)
    timeout = httpx.Timeout(600, connect=10)
    with httpx.Client(
        base_url=gateway, headers={"X-API-Key": key}, timeout=timeout
    ) as client:
        step(
            f"3. Upload {source.name} (keeping {HELD_OUT_ROWS} rows aside for predictions)"
        )
        dataset = upload(client, upload_path)

        step("4. Profile")
        show_profile(client, dataset)

        step("5. Narrative")
        show_narrative(client, "datasets", dataset["id"])

        step(f"6. Train a model for {target} (model_type auto)")
        job = train(client, dataset["id"], target)

        step("7. Leaderboard and metrics")
        model = show_model(client, job["model_id"])

        step("8. What the model learned")
        show_narrative(client, "models", model["id"])

        step(f"9. Predict {HELD_OUT_ROWS} held-out rows")
        predict(client, model, held_out, target)

    step("Where to look next")
    say(f"API reference:      {gateway}/docs")
    say(f"health of all:      curl {gateway}/health/detailed")
    say(f"metrics of all:     curl {gateway}/metrics")
    say("Prometheus:         make monitor  (then http://localhost:9090)")
    say(f"logs:               {settings.data_dir.resolve() / 'log'}/")
    say(f"your key:           export NM_API_KEY={key}")
    say("stop the stack:     make stop")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument(
        "csv", nargs="?", help="a CSV file to use instead of Telco churn"
    )
    parser.add_argument("target", nargs="?", help="the column to predict")
    parser.add_argument("--user", default="demo-analyst", help="user the key is for")
    args = parser.parse_args(argv)
    try:
        run(args)
    except (DemoError, RuntimeError, httpx.HTTPError) as exc:
        say(f"demo failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
