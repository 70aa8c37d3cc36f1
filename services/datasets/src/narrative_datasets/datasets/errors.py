"""Errors of the datasets domain."""

from narrative_common.errors import AppError, ConflictError, NotFoundError


class DatasetNotFoundError(NotFoundError):
    code = "dataset_not_found"

    def __init__(self, dataset_id: str) -> None:
        super().__init__(
            f"Dataset {dataset_id} was not found. List your datasets with "
            "GET /api/v1/datasets."
        )


class DatasetInUseError(ConflictError):
    code = "dataset_in_use"

    def __init__(
        self, dataset_id: str, models: list[dict], active_jobs: list[dict]
    ) -> None:
        uses = []
        if models:
            listed = ", ".join(
                f"{m.get('name') or m['id']} ({m['id']})" for m in models
            )
            uses.append(f"was used to train {len(models)} models: {listed}")
        if active_jobs:
            listed = ", ".join(f"{job['id']} ({job['state']})" for job in active_jobs)
            uses.append(f"has {len(active_jobs)} queued or running jobs: {listed}")
        super().__init__(
            f"Dataset {dataset_id} {' and '.join(uses)}. Delete those models and "
            "cancel those jobs first, or repeat the request with ?cascade=true to "
            "cancel the jobs and delete the models with the dataset."
        )
        self.models = models
        self.active_jobs = active_jobs


class MetadataTooLargeError(AppError):
    """The dataset's metadata and profile exceed MongoDB's document size limit."""

    status_code = 422
    code = "profile_too_large"

    def __init__(self, column_count: int) -> None:
        super().__init__(
            f"The profile of this {column_count}-column table is larger than the "
            "16 MB that the metadata store accepts, so nothing was kept. Upload "
            "fewer columns, or shorter column names and values."
        )
