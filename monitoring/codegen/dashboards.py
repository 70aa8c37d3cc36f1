"""Grafana dashboards: three overviews and one dashboard per service."""

from monitoring.codegen import panels as p
from monitoring.codegen import settings as s
from monitoring.codegen.panels import Query as Q
from monitoring.codegen.service_dashboards import service_dashboard

W = s.RATE_WINDOW


def _ratio(numerator: str, denominator: str) -> str:
    return f"({numerator}) / ({denominator})"


def system_health() -> dict:
    """Build the request, error and availability overview of all services."""
    board = p.new_dashboard("system-health", "System Health", ["overview"])
    board = (
        board.with_row(p.row("Now"))
        .with_panel(
            p.single_stat(
                "Requests", p.PER_SECOND, Q(f"sum(service:http_requests:rate{W})")
            )
        )
        .with_panel(
            p.single_stat(
                "Server error ratio",
                p.PERCENT_UNIT,
                Q(
                    _ratio(
                        # No 5xx series at all means no errors: read it as 0.
                        f"sum(service:http_requests_5xx:rate{W}) or vector(0)",
                        f"sum(service:http_requests:rate{W})",
                    )
                ),
            )
        )
        .with_panel(
            p.single_stat(
                "Requests in flight",
                p.COUNT,
                Q("sum(service:http_requests_active:sum)"),
            )
        )
        .with_panel(
            p.single_stat("Targets down", p.COUNT, Q("count(up == 0) or vector(0)"))
        )
        .with_row(p.row("Traffic and errors"))
        .with_panel(
            p.time_series(
                "Request rate by service",
                p.PER_SECOND,
                [Q(f"service:http_requests:rate{W}", "{{service}}")],
            )
        )
        .with_panel(
            p.time_series(
                "5xx rate by service",
                p.PER_SECOND,
                [Q(f"service:http_requests_5xx:rate{W}", "{{service}}")],
                f"The High5xxErrorRate alert fires above "
                f"{s.ERROR_RATE_THRESHOLD_PER_SECOND}/s.",
            )
        )
        .with_row(p.row("Latency and load"))
        .with_panel(
            p.time_series(
                "p95 latency, 10 slowest endpoints",
                p.SECONDS,
                [
                    Q(
                        "topk(10, service_endpoint:http_request_duration_seconds"
                        f":p95_{W})",
                        "{{service}} {{endpoint}}",
                    )
                ],
                f"The HighRequestLatency alert fires above "
                f"{s.HTTP_P95_THRESHOLD_SECONDS} s.",
            )
        )
        .with_panel(
            p.time_series(
                "Requests in flight by service",
                p.COUNT,
                [Q("service:http_requests_active:sum", "{{service}}")],
            )
        )
        .with_row(p.row("Availability"))
        .with_panel(
            p.time_series(
                "Scrape targets up",
                p.NONE,
                [Q("up", "{{job}} {{instance}}")],
                "1 when Prometheus scraped the target, 0 when it failed.",
            )
        )
        .with_panel(
            p.time_series(
                "Dependencies up",
                p.NONE,
                [
                    Q(
                        "min by (service, dependency) (dependency_up)",
                        "{{service}} to {{dependency}}",
                    )
                ],
            )
        )
        .with_panel(
            p.time_series(
                "Gateway error ratio against the SLO budget",
                p.PERCENT_UNIT,
                [
                    Q("slo:gateway_availability_errors:ratio_rate5m", "5m"),
                    Q("slo:gateway_availability_errors:ratio_rate1h", "1h"),
                    Q(
                        f"vector({1 - s.GATEWAY_AVAILABILITY.objective:g})",
                        "budget",
                    ),
                ],
                width=24,
            )
        )
    )
    return p.to_dict(board)


def ml_operations() -> dict:
    """Build the training, prediction and model quality overview."""
    board = p.new_dashboard("ml-operations", "ML Operations", ["overview", "ml"])
    quantiles = [
        Q(
            f"model_type:ml_prediction_latency_seconds:{q}_{W}",
            f"{q} {{{{model_type}}}}",
        )
        for q in ("p50", "p95", "p99")
    ]
    training = [
        Q(
            f"model_type:ml_training_duration_seconds:{q}_{s.TRAINING_RATE_WINDOW}",
            f"{q} {{{{model_type}}}}",
        )
        for q in ("p50", "p95")
    ]
    board = (
        board.with_row(p.row("Predictions"))
        .with_panel(
            p.time_series(
                "Prediction latency by model type",
                p.SECONDS,
                quantiles,
                f"The HighPredictionLatency alert fires when p99 is above "
                f"{s.PREDICTION_P99_THRESHOLD_SECONDS} s.",
            )
        )
        .with_panel(
            p.time_series(
                "Predictions by model type",
                p.OPS_PER_SECOND,
                [
                    Q(
                        f"model_type:ml_prediction_latency_seconds:rate{W}",
                        "{{model_type}}",
                    )
                ],
            )
        )
        .with_panel(
            p.time_series(
                "Single-row predictions slower than the SLO",
                p.PERCENT_UNIT,
                [
                    Q("slo:prediction_latency_errors:ratio_rate5m", "5m"),
                    Q("slo:prediction_latency_errors:ratio_rate1h", "1h"),
                    Q(f"vector({1 - s.PREDICTION_LATENCY.objective:g})", "budget"),
                ],
            )
        )
        .with_panel(
            p.time_series(
                "Model cache hit ratio",
                p.PERCENT_UNIT,
                [
                    Q(
                        _ratio(
                            f"sum(rate(inference_model_cache_hits_total[{W}]))",
                            f"sum(rate(inference_model_cache_hits_total[{W}])) + "
                            f"sum(rate(inference_model_cache_misses_total[{W}]))",
                        ),
                        "hit ratio",
                    )
                ],
            )
        )
        .with_row(p.row("Training"))
        .with_panel(
            p.time_series(
                "Training duration by model type",
                p.SECONDS,
                training,
                f"The HighTrainingDuration alert fires when p95 is above "
                f"{s.TRAINING_P95_THRESHOLD_SECONDS} s.",
            )
        )
        .with_panel(
            p.time_series(
                "Training jobs by outcome",
                p.OPS_PER_SECOND,
                [
                    Q(
                        f"sum by (outcome) (rate(training_jobs_total[{W}]))",
                        "{{outcome}}",
                    )
                ],
            )
        )
        .with_panel(
            p.time_series(
                "Training queue depth and running jobs",
                p.COUNT,
                [
                    Q("max(training_queue_depth)", "queued"),
                    Q("sum(training_jobs_running)", "running"),
                ],
            )
        )
        .with_panel(
            p.time_series(
                "Model scores",
                p.PERCENT_UNIT,
                [
                    Q(
                        "max by (model_id, model_type, metric_name) "
                        f"(ml_model_accuracy{{{s.MODEL_ACCURACY_SELECTOR}}})",
                        "{{model_id}} {{model_type}} {{metric_name}}",
                    )
                ],
                f"The LowModelAccuracy alert fires below {s.MODEL_ACCURACY_THRESHOLD}.",
            )
        )
        .with_panel(
            p.time_series(
                "Dataset size, p50 and p95 over 1d",
                p.COUNT,
                [
                    Q(
                        f"histogram_quantile({q}, sum by (le) "
                        "(rate(ml_dataset_size_rows_bucket[1d])))",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ],
                "Rows per uploaded dataset.",
                width=24,
            )
        )
    )
    return p.to_dict(board)


def business_metrics() -> dict:
    """Build the usage overview: users, datasets, models and predictions."""
    board = p.new_dashboard(
        "business-metrics", "Business Metrics", ["overview", "business"]
    )
    board = (
        board.with_row(p.row("Users"))
        .with_panel(
            p.time_series(
                "Active users by window",
                p.COUNT,
                [Q("max by (time_window) (business_active_users)", "{{time_window}}")],
            )
        )
        .with_panel(
            p.time_series(
                "Daily over monthly active users",
                p.PERCENT_UNIT,
                [
                    Q(
                        _ratio(
                            'max(business_active_users{time_window="day"})',
                            'max(business_active_users{time_window="month"})',
                        ),
                        "DAU / MAU",
                    )
                ],
            )
        )
        .with_row(p.row("Usage"))
        .with_panel(
            p.time_series(
                "Datasets created per day",
                p.COUNT,
                [Q("sum(increase(business_datasets_created_total[1d]))", "datasets")],
            )
        )
        .with_panel(
            p.time_series(
                "Models trained per day by model type",
                p.COUNT,
                [
                    Q(
                        "sum by (model_type) "
                        "(increase(business_models_trained_total[1d]))",
                        "{{model_type}}",
                    )
                ],
            )
        )
        .with_panel(
            p.time_series(
                "Predictions",
                p.OPS_PER_SECOND,
                [Q(f"sum(service:business_predictions_made:rate{W})", "predictions")],
            )
        )
        .with_panel(
            p.time_series(
                "Predictions per day, 10 most used models",
                p.COUNT,
                [
                    Q(
                        "topk(10, sum by (model_id) "
                        "(increase(business_predictions_made_total[1d])))",
                        "{{model_id}}",
                    )
                ],
            )
        )
        .with_panel(
            p.time_series(
                "OpenAI tokens per day",
                p.COUNT,
                [
                    Q(
                        "sum by (direction) (increase(openai_tokens_total[1d]))",
                        "{{direction}}",
                    )
                ],
                width=24,
            )
        )
    )
    return p.to_dict(board)


def all_dashboards() -> list[dict]:
    """Build every dashboard, overviews first."""
    boards = [system_health(), ml_operations(), business_metrics()]
    boards += [service_dashboard(service) for service in s.APP_SERVICES]
    return boards
