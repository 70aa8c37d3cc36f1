"""Training metrics. Id labels are bounded by BoundedLabel: the first
METRICS_MAX_TRACKED_IDS distinct ids keep their value, later ones read "other"."""

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from narrative_common.metrics import BoundedLabel

TRAINING_BUCKETS_SECONDS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
ACCURACY_METRIC_NAMES = ("accuracy", "roc_auc", "f1", "r2")


class TrainingMetrics:
    def __init__(
        self, max_tracked_ids: int = 100, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.model_id_label = BoundedLabel(max_tracked_ids)
        self.user_id_label = BoundedLabel(max_tracked_ids)
        # model_type: the chosen model type. problem_type: classification or
        # regression.
        self.duration = Histogram(
            "ml_training_duration_seconds",
            "Wall time of a training job from start to stored model.",
            ["model_type", "problem_type"],
            buckets=TRAINING_BUCKETS_SECONDS,
            registry=registry,
        )
        # model_id: bounded, the first METRICS_MAX_TRACKED_IDS ids then "other".
        # metric_name: accuracy, roc_auc, f1 or r2, on the held-out test split.
        self.accuracy = Gauge(
            "ml_model_accuracy",
            "Test-split score of a trained model. model_id is bounded: ids past "
            "METRICS_MAX_TRACKED_IDS per process read 'other'.",
            ["model_id", "model_type", "metric_name"],
            registry=registry,
        )
        # user_id: bounded like model_id.
        self.models_trained = Counter(
            "business_models_trained_total",
            "Models trained and stored. user_id is bounded: ids past "
            "METRICS_MAX_TRACKED_IDS per process read 'other'.",
            ["model_type", "user_id"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "training_queue_depth",
            "Training jobs waiting in the arq queue, not counting running ones.",
            registry=registry,
        )
        # outcome: succeeded, failed, cancelled or retried.
        self.jobs = Counter(
            "training_jobs_total",
            "Training jobs finished by this worker, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.running = Gauge(
            "training_jobs_running",
            "Training jobs running in this worker.",
            registry=registry,
        )

    def record_model(
        self, model_id: str, model_type: str, user_id: str, scores: dict
    ) -> None:
        model_label = self.model_id_label(model_id)
        for name in ACCURACY_METRIC_NAMES:
            if name in scores:
                self.accuracy.labels(model_label, model_type, name).set(scores[name])
        self.models_trained.labels(model_type, self.user_id_label(user_id)).inc()


_metrics: TrainingMetrics | None = None


def get_metrics(max_tracked_ids: int = 100) -> TrainingMetrics:
    """Return the process's metrics, registering them on first use."""
    global _metrics
    if _metrics is None:
        _metrics = TrainingMetrics(max_tracked_ids)
    return _metrics
