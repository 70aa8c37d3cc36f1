"""Domain metrics of the datasets service.

`dataset_id` and `user_id` labels go through BoundedLabel: the first
METRICS_MAX_TRACKED_IDS distinct ids a process sees keep their value and
later ones are reported as "other".
"""

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from narrative_common.metrics import BoundedLabel

ROW_BUCKETS = (100, 1e3, 1e4, 1e5, 1e6, 1e7)
STAGE_BUCKETS_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DatasetMetrics:
    def __init__(
        self, max_tracked_ids: int, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.user_label = BoundedLabel(max_tracked_ids)
        self.dataset_label = BoundedLabel(max_tracked_ids)
        # user_id: the owner, bounded as the module docstring describes.
        self.created = Counter(
            "business_datasets_created_total",
            "Datasets stored, by owner. user_id keeps the first "
            "METRICS_MAX_TRACKED_IDS ids per process, then 'other'.",
            ["user_id"],
            registry=registry,
        )
        # dataset_id: the stored dataset, bounded as the module docstring describes.
        self.size_rows = Histogram(
            "ml_dataset_size_rows",
            "Rows per stored dataset. dataset_id keeps the first "
            "METRICS_MAX_TRACKED_IDS ids per process, then 'other'.",
            ["dataset_id"],
            buckets=ROW_BUCKETS,
            registry=registry,
        )
        # reason: a fixed error code such as too_large or ragged_row.
        self.rejected = Counter(
            "datasets_uploads_rejected_total",
            "Uploads rejected before anything was stored, by reason.",
            ["reason"],
            registry=registry,
        )
        # stage: receive, parse, profile or store.
        self.stage_duration = Histogram(
            "datasets_ingest_duration_seconds",
            "Time spent in each ingestion stage of one upload.",
            ["stage"],
            buckets=STAGE_BUCKETS_SECONDS,
            registry=registry,
        )

    def record_created(self, user_id: str, dataset_id: str, rows: int) -> None:
        self.created.labels(self.user_label(user_id)).inc()
        self.size_rows.labels(self.dataset_label(dataset_id)).observe(rows)


def _max_tracked_ids() -> int:
    from narrative_datasets.settings import get_settings

    return get_settings().metrics_max_tracked_ids


DATASET_METRICS = DatasetMetrics(_max_tracked_ids())
