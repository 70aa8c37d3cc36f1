"""Calls to the services that hold data derived from a dataset.

Training owns models trained on a dataset and ai-analysis owns analyses of
it; a dataset is deleted only after both have let go of it.
"""

from dataclasses import dataclass, field

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


@dataclass
class DatasetUsage:
    """Training's uses of a dataset: models (`id`, `name`), jobs (`id`, `state`)."""

    models: list[dict] = field(default_factory=list)
    active_jobs: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.models or self.active_jobs)


class Dependents:
    def __init__(self, training: ServiceClient, analysis: ServiceClient) -> None:
        self.training = training
        self.analysis = analysis

    async def usage(self, user: User, dataset_id: str) -> DatasetUsage:
        """Return the user's models and queued or running jobs on the dataset.

        A training service that does not send `active_jobs` yet counts as
        having none.
        """
        response = await self.training.request(
            "GET", "/internal/v1/models", user, params={"dataset_id": dataset_id}
        )
        if not response.is_success:
            raise _unavailable("training", response, "list the dataset's models")
        body = response.json()
        models = [
            {"id": str(item["id"]), "name": item.get("name")}
            for item in body.get("items", [])
        ]
        jobs = [
            {"id": str(item["id"]), "state": item.get("state")}
            for item in body.get("active_jobs") or []
        ]
        return DatasetUsage(models, jobs)

    async def cancel_jobs(self, user: User, dataset_id: str) -> list[str]:
        """Cancel the user's queued and running jobs on the dataset.

        Returns the ids of the cancelled jobs.
        """
        response = await self.training.request(
            "POST", "/internal/v1/jobs/cancel", user, params={"dataset_id": dataset_id}
        )
        if not response.is_success:
            raise _unavailable("training", response, "cancel the dataset's jobs")
        return [str(job_id) for job_id in response.json().get("cancelled", [])]

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
