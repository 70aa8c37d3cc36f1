"""Fixtures of the inference tests: Telco models in real S3, a fake training
service that serves their metadata, and the inference app in process."""

from collections.abc import AsyncIterator, Iterator

import boto3
import httpx
import pytest
from botocore.config import Config
from inference_helpers import DATASETS, BuiltModel, FakeTraining, build_telco_model

from narrative_inference.main import build_app
from narrative_inference.settings import InferenceSettings

OWNER = "alice"
OTHER_USER = "bob"
CLASSIFIER_ID = "6b12f5ce2201f7436d5d0901"
REGRESSOR_ID = "6b12f5ce2201f7436d5d0902"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if DATASETS.is_dir():
        return
    skip = pytest.mark.skip(reason=f"the shared datasets folder {DATASETS} is absent")
    for item in items:
        if "telco" in item.fixturenames:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def telco() -> BuiltModel:
    return build_telco_model(model_id=CLASSIFIER_ID, owner=OWNER)


@pytest.fixture(scope="session")
def telco_regressor(telco: BuiltModel) -> BuiltModel:
    return build_telco_model(
        model_id=REGRESSOR_ID, owner=OWNER, problem_type="regression"
    )


@pytest.fixture(scope="session")
def fake_training(infra) -> Iterator[FakeTraining]:
    training = FakeTraining(infra.config.internal_token)
    training.url = training.start()
    try:
        yield training
    finally:
        training.stop()


def upload_model(infra, model: BuiltModel) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=infra.env["S3_ENDPOINT_URL"],
        aws_access_key_id=infra.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=infra.env["AWS_SECRET_ACCESS_KEY"],
        region_name=infra.env["AWS_REGION"],
        config=Config(s3={"addressing_style": "path"}),
    )
    artifact = model.metadata["artifact"]
    try:
        s3.create_bucket(Bucket=artifact["bucket"])
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket=artifact["bucket"], Key=artifact["key"], Body=model.onnx_bytes)


@pytest.fixture(scope="session")
def published_models(
    infra, fake_training: FakeTraining, telco: BuiltModel, telco_regressor: BuiltModel
) -> FakeTraining:
    for model in (telco, telco_regressor):
        upload_model(infra, model)
        fake_training.models[model.metadata["id"]] = model.metadata
    return fake_training


def inference_settings(infra, training_url: str, **overrides) -> InferenceSettings:
    with infra.settings_env():
        return InferenceSettings(
            training_url=training_url,
            INFERENCE_PRELOAD_COUNT=0,
            **overrides,
        )


@pytest.fixture(scope="session")
async def api(
    infra, published_models: FakeTraining
) -> AsyncIterator[httpx.AsyncClient]:
    """The inference app in process, with the Telco models published."""
    app = build_app(inference_settings(infra, published_models.url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://inference", timeout=60
        ) as client:
            client.app = app
            yield client


@pytest.fixture(scope="session")
def owner_headers(infra) -> dict[str, str]:
    return {"X-Internal-Token": infra.config.internal_token, "X-User-Id": OWNER}


@pytest.fixture(scope="session")
def other_headers(infra) -> dict[str, str]:
    return {"X-Internal-Token": infra.config.internal_token, "X-User-Id": OTHER_USER}
