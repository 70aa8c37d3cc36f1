"""Deleting a model: artifact first, then metadata, then the news."""

from narrative_common.auth import User
from narrative_common.errors import AppError, NotFoundError
from narrative_common.logging import get_logger
from narrative_training.events import publish_model_event

log = get_logger(__name__)


def model_not_found(model_id: str) -> NotFoundError:
    return NotFoundError(
        f"Model {model_id} was not found. List your models with GET /api/v1/models.",
        code="model_not_found",
    )


async def delete_model(model_id: str, user: User, state) -> None:
    document = await state.models.get(model_id, user.id)
    if document is None:
        raise model_not_found(model_id)
    artifact = document["artifact"]
    await state.store.delete(artifact["bucket"], artifact["key"])
    await state.models.delete(model_id, user.id)
    log.info("model.deleted", model_id=model_id)
    await publish_model_event(
        state.redis, "model.deleted", model_id, user.id, document["dataset_id"]
    )
    await _forget_analysis(model_id, user, state.analysis)


async def _forget_analysis(model_id: str, user: User, analysis) -> None:
    """Ask ai-analysis to drop its analyses of the model; tolerate its absence."""
    try:
        response = await analysis.request(
            "DELETE", f"/internal/v1/analysis/models/{model_id}", user
        )
    except AppError as exc:
        log.warning(
            "model.analysis_cleanup.failed", model_id=model_id, error=exc.message
        )
        return
    if response.status_code >= 400 and response.status_code != 404:
        log.warning(
            "model.analysis_cleanup.failed",
            model_id=model_id,
            status_code=response.status_code,
        )
