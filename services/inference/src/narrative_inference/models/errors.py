"""Errors of the prediction and cache routes."""

from narrative_common.errors import AppError, NotFoundError


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"

    def __init__(self, model_id: str) -> None:
        super().__init__(
            f"Model {model_id} was not found. List your models with "
            "GET /api/v1/models; only a model's owner can use it."
        )


class ModelArtifactError(AppError):
    """The model's ONNX artifact is missing, corrupt or does not load."""

    status_code = 502
    code = "model_artifact_invalid"


class InputValidationError(AppError):
    status_code = 422
    code = "validation_error"
