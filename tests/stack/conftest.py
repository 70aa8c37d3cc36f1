"""Clients for whole-stack tests: users with keys, and direct reads of MongoDB and S3."""

import time
from pathlib import Path

import boto3
import httpx
import pytest
from pymongo import MongoClient

SHARED_DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"

requires_shared_datasets = pytest.mark.skipif(
    not SHARED_DATASETS.is_dir(),
    reason=f"the shared datasets folder {SHARED_DATASETS} is absent",
)


class Analyst:
    """One user calling the platform through Traefik with their own key."""

    def __init__(self, name: str, base_url: str, key: str) -> None:
        self.name = name
        self.key = key
        self.http = httpx.Client(
            base_url=base_url,
            headers={"X-API-Key": key},
            timeout=httpx.Timeout(300, connect=10),
        )

    def upload(
        self, path: Path, content: bytes | None = None, **form
    ) -> httpx.Response:
        body = path.read_bytes() if content is None else content
        return self.http.post(
            "/api/v1/datasets", files={"file": (path.name, body)}, data=form
        )

    def train(self, dataset_id: str, target: str, **options) -> httpx.Response:
        return self.http.post(
            "/api/v1/training/jobs",
            json={"dataset_id": dataset_id, "target": target, **options},
        )

    def wait_for_job(self, job_id: str, timeout_seconds: float = 600) -> dict:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            response = self.http.get(f"/api/v1/training/jobs/{job_id}")
            assert response.status_code == 200, response.text
            job = response.json()
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.5)
        pytest.fail(f"job {job_id} did not finish within {timeout_seconds} s")


@pytest.fixture(scope="session")
def analyst_factory(stack):
    made: list[Analyst] = []

    def make(name: str) -> Analyst:
        analyst = Analyst(name, stack.gateway_url, stack.api_key(name))
        made.append(analyst)
        return analyst

    yield make
    for analyst in made:
        analyst.http.close()


@pytest.fixture(scope="session")
def alice(analyst_factory) -> Analyst:
    return analyst_factory("alice")


@pytest.fixture(scope="session")
def mallory(analyst_factory) -> Analyst:
    return analyst_factory("mallory")


@pytest.fixture(scope="session")
def database(stack):
    client = MongoClient(stack.env["MONGODB_URI"])
    yield client[stack.env["MONGODB_DATABASE"]]
    client.close()


@pytest.fixture(scope="session")
def s3(stack):
    return boto3.client(
        "s3",
        endpoint_url=stack.env["S3_ENDPOINT_URL"],
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        region_name=stack.env["AWS_REGION"],
    )


def s3_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys
