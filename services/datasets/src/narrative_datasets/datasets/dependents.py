"""Calls to the services that hold data derived from a dataset.

Training owns models trained on a dataset and ai-analysis owns analyses of
it; a dataset is deleted only after both have let go of it.
"""

import httpx

from narrative_common.auth import User
from narrative_common.errors import DependencyUnavailableError
from narrative_common.logging import get_logger
from narrative_common.service_client import ServiceClient

log = get_logger(__name__)


def _unavailable(service: str, response: httpx.Response, action: str):
    log.error(
        "dataset.dependent.failed",
        dependency=service,
        status_code=response.status_code,
        action=action,
    )
    return DependencyUnavailableError(
        f"The {service} service could not {action} (HTTP {response.status_code}), "
        "so nothing was deleted. Try again shortly."
    )


class Dependents:
    def __init__(self, training: ServiceClient, analysis: ServiceClient) -> None:
        self.training = training
        self.analysis = analysis

    async def models_trained_on(self, user: User, dataset_id: str) -> list[dict]:
        """Return `{"id", "name"}` of the user's models trained on the dataset."""
        response = await self.training.request(
            "GET", "/internal/v1/models", user, params={"dataset_id": dataset_id}
        )
        if not response.is_success:
            raise _unavailable("training", response, "list the dataset's models")
        return [
            {"id": str(item["id"]), "name": item.get("name")}
            for item in response.json().get("items", [])
        ]

    async def ensure_analysis_reachable(self) -> None:
        await self.analysis.ping()

    async def delete_model(self, user: User, model_id: str) -> None:
        response = await self.training.request(
            "DELETE", f"/api/v1/models/{model_id}", user
        )
        if not response.is_success and response.status_code != 404:
            raise _unavailable("training", response, f"delete model {model_id}")

    async def delete_analyses(self, user: User, dataset_id: str) -> None:
        response = await self.analysis.request(
            "DELETE", f"/internal/v1/analysis/datasets/{dataset_id}", user
        )
        if not response.is_success and response.status_code != 404:
            raise _unavailable("ai-analysis", response, "delete the dataset's analyses")
