"""Sample exposition of the metrics contract, built in a private registry."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Buckets the services use (docs/runbook.md, metric guide).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
TRAINING_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)


def build_registry() -> CollectorRegistry:
    """Build a registry holding one sample of every contract metric."""
    registry = CollectorRegistry()
    http = ("method", "endpoint", "status_code")

    Histogram(
        "http_request_duration_seconds",
        "HTTP request latency by route template.",
        http,
        buckets=LATENCY_BUCKETS,
        registry=registry,
    ).labels("POST", "/api/v1/models/{model_id}/predict", "200").observe(0.004)

    Counter(
        "http_requests", "HTTP requests by route template.", http, registry=registry
    ).labels("GET", "/api/v1/datasets", "500").inc()

    Gauge(
        "http_requests_active",
        "HTTP requests in flight.",
        ("method", "endpoint"),
        registry=registry,
    ).labels("POST", "/api/v1/datasets").set(3)

    Histogram(
        "ml_training_duration_seconds",
        "Training job duration.",
        ("model_type", "problem_type"),
        buckets=TRAINING_BUCKETS,
        registry=registry,
    ).labels("random_forest", "classification").observe(42)

    Histogram(
        "ml_prediction_latency_seconds",
        "Model prediction latency; model_id is bounded to 100 ids, then other.",
        ("model_type", "model_id"),
        buckets=LATENCY_BUCKETS,
        registry=registry,
    ).labels("random_forest", "m1").observe(0.0002)

    Gauge(
        "ml_model_accuracy",
        "Cross-validated score of a trained model.",
        ("model_id", "model_type", "metric_name"),
        registry=registry,
    ).labels("m1", "random_forest", "accuracy").set(0.8)

    Histogram(
        "ml_dataset_size_rows",
        "Rows per uploaded dataset.",
        ("dataset_id",),
        buckets=(100, 1000, 10000, 100000, 1000000),
        registry=registry,
    ).labels("d1").observe(5000)

    Gauge(
        "business_active_users",
        "Distinct active users per window.",
        ("time_window",),
        registry=registry,
    ).labels("day").set(12)

    Counter(
        "business_datasets_created",
        "Datasets created.",
        ("user_id",),
        registry=registry,
    ).labels("u1").inc()

    Counter(
        "business_models_trained",
        "Models trained.",
        ("model_type", "user_id"),
        registry=registry,
    ).labels("random_forest", "u1").inc()

    Counter(
        "business_predictions_made",
        "Predictions made.",
        ("model_id",),
        registry=registry,
    ).labels("m1").inc(5)

    return registry
