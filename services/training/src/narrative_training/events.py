"""Model lifecycle events on the Redis channel `model-events`."""

import json

from redis.asyncio import Redis

from narrative_common.logging import get_logger

CHANNEL = "model-events"
log = get_logger(__name__)


async def publish_model_event(
    redis: Redis, event: str, model_id: str, user_id: str, dataset_id: str
) -> None:
    """Publish model.trained or model.deleted; a failure is logged, not raised.

    Subscribers (the inference cache) also load models on demand, so a lost
    event costs one slower first prediction, not a wrong one.
    """
    message = json.dumps(
        {
            "event": event,
            "model_id": model_id,
            "user_id": user_id,
            "dataset_id": dataset_id,
        }
    )
    try:
        await redis.publish(CHANNEL, message)
    except Exception as exc:  # noqa: BLE001 - any Redis failure is only logged
        log.warning(
            "model.event.publish_failed", event=event, model_id=model_id, error=str(exc)
        )
