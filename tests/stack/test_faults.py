"""Dependency outages: they show in health and metrics, and services recover by themselves."""

import os
import subprocess
import sys
import time

import httpx
import pytest

from narrative_devstack.stack import REPO_ROOT

TINY_CSV = (
    b"city,temperature,rain\nOslo,3.5,yes\nRome,18.0,no\nLima,21.5,no\nNuuk,-4.0,yes\n"
)


def _wait_until(check, timeout_seconds: float, what: str):
    deadline = time.monotonic() + timeout_seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout_seconds} s; last result: {last}")


def _dependency_status(stack, service: str, dependency: str) -> str:
    response = httpx.get(f"{stack.service_url(service)}/health/detailed", timeout=10)
    return response.json()["dependencies"][dependency]["status"]


def test_mongodb_outage_shows_and_recovers(stack, analyst_factory):
    user = analyst_factory("outage")
    uploaded = user.http.post(
        "/api/v1/datasets", files={"file": ("weather.csv", TINY_CSV)}
    )
    assert uploaded.status_code == 201, uploaded.text
    dataset_id = uploaded.json()["id"]
    mongodb = stack.stack.processes["mongodb"]

    mongodb.stop()
    try:
        assert _dependency_status(stack, "datasets", "mongodb") == "down"
        ready = httpx.get(f"{stack.service_url('datasets')}/health/ready", timeout=10)
        assert ready.status_code == 503
        during = user.http.get(f"/api/v1/datasets/{dataset_id}")
        assert during.status_code == 503
        assert during.json()["error"] in (
            "dependency_unavailable",
            "service_unavailable",
        )
        metrics = httpx.get(f"{stack.service_url('datasets')}/metrics").text
        assert 'dependency_up{dependency="mongodb"} 0.0' in metrics
    finally:
        stack.stack.restart("mongodb")

    _wait_until(
        lambda: _dependency_status(stack, "datasets", "mongodb") == "ok",
        60,
        "datasets did not see MongoDB again",
    )
    after = user.http.get(f"/api/v1/datasets/{dataset_id}")
    assert after.status_code == 200
    assert after.json()["rows"] == 4


def test_s3_and_redis_restarts_keep_data(stack, analyst_factory):
    user = analyst_factory("restarts")
    uploaded = user.http.post(
        "/api/v1/datasets", files={"file": ("weather.csv", TINY_CSV)}
    )
    assert uploaded.status_code == 201, uploaded.text
    dataset_id = uploaded.json()["id"]

    for name in ("s3", "s3-storage", "redis"):
        stack.stack.processes[name].stop()
    assert _dependency_status(stack, "datasets", "s3") == "down"
    assert _dependency_status(stack, "inference", "redis") == "down"
    stack.stack.restart("redis")
    stack.stack.restart("s3-storage")
    stack.stack.restart("s3")

    preview = _wait_until(
        lambda: (
            (r := user.http.get(f"/api/v1/datasets/{dataset_id}/preview")).status_code
            == 200
            and r
        ),
        60,
        "the preview did not come back after S3 restarted",
    )
    assert preview.json()["rows"][0][0] == "Oslo"
    _wait_until(
        lambda: _dependency_status(stack, "inference", "redis") == "ok",
        60,
        "inference did not reconnect to Redis",
    )
    job = user.train(_training_table(user), "label", model_type="logistic_regression")
    assert job.status_code == 202, job.text
    finished = user.wait_for_job(job.json()["id"], timeout_seconds=180)
    assert finished["state"] == "succeeded", finished


def _training_table(user) -> str:
    """Upload a small learnable table and return its dataset id."""
    lines = ["size,colour,label"]
    for index in range(120):
        size = (index * 37 % 100) / 10
        colour = ("red", "green", "blue")[index % 3]
        lines.append(f"{size},{colour},{'big' if size > 5 else 'small'}")
    response = user.http.post(
        "/api/v1/datasets", files={"file": ("sizes.csv", "\n".join(lines).encode())}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_make_api_key_prints_only_a_working_key(stack):
    env = {
        **os.environ,
        **{
            f"STACK_PORT_{name.upper()}": str(port)
            for name, port in stack.config.ports.items()
        },
        "STACK_INTERNAL_TOKEN": stack.config.internal_token,
        "PYTHON": sys.executable,
    }

    result = subprocess.run(
        ["make", "-s", "api-key", "USER=maker"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    key = lines[0]
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/datasets", headers={"X-API-Key": key}
    )
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_stopped_service_answers_in_the_error_envelope(stack, analyst_factory):
    user = analyst_factory("unreachable")
    inference = stack.stack.processes["inference"]

    inference.stop()
    try:
        response = user.http.post(
            "/api/v1/models/6b12f5ce2201f7436d5d09ed/predict", json={"record": {}}
        )
        assert response.status_code == 502
        assert response.json()["error"] == "service_unavailable"
        assert "/health/detailed" in response.json()["message"]
    finally:
        stack.stack.restart("inference")

    after = user.http.post(
        "/api/v1/models/6b12f5ce2201f7436d5d09ed/predict", json={"record": {}}
    )
    assert after.status_code == 404
