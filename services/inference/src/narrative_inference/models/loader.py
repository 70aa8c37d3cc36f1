"""Load a model: metadata from the training service, ONNX bytes from S3."""

import asyncio
import hashlib

import onnxruntime as ort
import structlog
from botocore.exceptions import ClientError
from pydantic import ValidationError

from narrative_common.auth import User
from narrative_common.clients import ObjectStore
from narrative_common.errors import NotFoundError
from narrative_common.service_client import ServiceClient
from narrative_inference.models.errors import ModelArtifactError, ModelNotFoundError
from narrative_inference.models.onnx_model import LoadedModel
from narrative_inference.models.schemas import ModelMetadata

log = structlog.stdlib.get_logger(__name__)


def open_session(data: bytes, intra_op_threads: int) -> ort.InferenceSession:
    """Open an onnxruntime CPU session on serialized ONNX bytes.

    One intra-op thread uses about half the CPU per call of the default for
    one-row calls at the same latency, so concurrent requests go further.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        data, sess_options=options, providers=["CPUExecutionProvider"]
    )


class ModelLoader:
    """Loads models for the cache; a model the user does not own is not found."""

    def __init__(
        self, training: ServiceClient, store: ObjectStore, intra_op_threads: int = 1
    ) -> None:
        self._training = training
        self._store = store
        self._intra_op_threads = intra_op_threads

    async def fetch_metadata(self, model_id: str, user: User) -> ModelMetadata:
        try:
            body = await self._training.get_json(
                f"/internal/v1/models/{model_id}", user
            )
        except NotFoundError as exc:
            raise ModelNotFoundError(model_id) from exc
        try:
            return ModelMetadata.model_validate(body)
        except ValidationError as exc:
            log.error("model.metadata.invalid", model_id=model_id, error=str(exc))
            raise ModelArtifactError(
                f"The training service returned invalid metadata for model "
                f"{model_id}. Retrain the model; if this persists, report it."
            ) from exc

    async def __call__(self, model_id: str, user: User) -> LoadedModel:
        metadata = await self.fetch_metadata(model_id, user)
        artifact = metadata.artifact
        try:
            data = await self._store.get_bytes(artifact.bucket, artifact.key)
        except ClientError as exc:
            log.error(
                "model.artifact.download_failed",
                model_id=model_id,
                key=artifact.key,
                error=str(exc),
            )
            raise ModelArtifactError(
                f"The ONNX file of model {model_id} could not be read from storage "
                f"({exc.response.get('Error', {}).get('Code', 'error')}). Retrain "
                "the model if it was deleted."
            ) from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != artifact.sha256.lower() or len(data) != artifact.bytes:
            log.error(
                "model.artifact.checksum_mismatch",
                model_id=model_id,
                expected_sha256=artifact.sha256,
                actual_sha256=digest,
                expected_bytes=artifact.bytes,
                actual_bytes=len(data),
            )
            raise ModelArtifactError(
                f"The ONNX file of model {model_id} does not match its recorded "
                "checksum or size. Retrain the model."
            )
        try:
            session = await asyncio.to_thread(
                open_session, data, self._intra_op_threads
            )
        except Exception as exc:  # onnxruntime raises several untyped errors
            log.error("model.artifact.load_failed", model_id=model_id, error=str(exc))
            raise ModelArtifactError(
                f"The ONNX file of model {model_id} does not load in onnxruntime: "
                f"{str(exc)[:200]}"
            ) from exc
        _check_inputs(metadata, session)
        return LoadedModel(metadata=metadata, session=session, nbytes=len(data))


def _check_inputs(metadata: ModelMetadata, session: ort.InferenceSession) -> None:
    expected = {column.onnx_input for column in metadata.input_schema}
    actual = {node.name for node in session.get_inputs()}
    if expected != actual:
        log.error(
            "model.artifact.inputs_mismatch",
            model_id=metadata.id,
            missing=sorted(actual - expected),
            unknown=sorted(expected - actual),
        )
        raise ModelArtifactError(
            f"The ONNX inputs of model {metadata.id} do not match its input schema "
            f"(graph inputs not in the schema: {sorted(actual - expected)}; schema "
            f"inputs not in the graph: {sorted(expected - actual)}). Retrain the model."
        )
