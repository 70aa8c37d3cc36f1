"""Prediction and model-cache metrics of the inference service."""

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from narrative_common.metrics import LATENCY_BUCKETS_SECONDS, BoundedLabel

# Model loads include an S3 download and session creation, so they run from
# tens of milliseconds to tens of seconds.
LOAD_BUCKETS_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class InferenceMetrics:
    def __init__(
        self, max_tracked_ids: int = 100, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.model_id_label = BoundedLabel(max_tracked_ids)
        self.prediction_latency = Histogram(
            "ml_prediction_latency_seconds",
            "Time to validate a request's rows and run the model, by model. "
            "model_id is the id for the first METRICS_MAX_TRACKED_IDS models a "
            "process sees and 'other' after that.",
            ["model_type", "model_id"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.predictions = Counter(
            "business_predictions_made_total",
            "Rows predicted, by model. model_id is the id for the first "
            "METRICS_MAX_TRACKED_IDS models a process sees and 'other' after that.",
            ["model_id"],
            registry=registry,
        )
        self.cache_hits = Counter(
            "inference_model_cache_hits_total",
            "Model lookups served from the in-memory cache.",
            registry=registry,
        )
        self.cache_misses = Counter(
            "inference_model_cache_misses_total",
            "Model lookups that had to load the model from S3.",
            registry=registry,
        )
        # reason: capacity (entry or byte bound), deleted (model.deleted event)
        # or explicit (DELETE /api/v1/models/cache/{model_id}).
        self.cache_evictions = Counter(
            "inference_model_cache_evictions_total",
            "Models removed from the cache, by reason.",
            ["reason"],
            registry=registry,
        )
        self.cache_entries = Gauge(
            "inference_model_cache_entries",
            "Models held in the cache.",
            registry=registry,
        )
        self.cache_bytes = Gauge(
            "inference_model_cache_bytes",
            "Size of the ONNX artifacts held in the cache, in bytes.",
            registry=registry,
        )
        self.load_duration = Histogram(
            "inference_model_load_duration_seconds",
            "Time to fetch metadata, download, open and warm up one model.",
            buckets=LOAD_BUCKETS_SECONDS,
            registry=registry,
        )
        for reason in ("capacity", "deleted", "explicit"):
            self.cache_evictions.labels(reason)


METRICS = InferenceMetrics()
