"""One dashboard per service: the shared HTTP and dependency panels, then
the panels for what that service alone exports."""

from collections.abc import Callable

from monitoring.codegen import panels as p
from monitoring.codegen import settings as s
from monitoring.codegen.panels import Query as Q

W = s.RATE_WINDOW
Panel = p.timeseries.Panel


def _http_panels(service: str) -> list[Panel]:
    sel = f'service="{service}"'
    latency = [
        Q(
            f"service_endpoint:http_request_duration_seconds:{q}_{W}{{{sel}}}",
            f"{q} {{{{endpoint}}}}",
        )
        for q in ("p50", "p95", "p99")
    ]
    return [
        p.time_series(
            "Requests by endpoint",
            p.PER_SECOND,
            [Q(f"service_endpoint:http_requests:rate{W}{{{sel}}}", "{{endpoint}}")],
        ),
        p.time_series(
            "5xx by endpoint",
            p.PER_SECOND,
            [
                Q(
                    f"service_endpoint:http_requests_5xx:rate{W}{{{sel}}}"
                    # Endpoints without errors read 0 instead of "No data",
                    # which would also be what a broken scrape shows.
                    f" or 0 * service_endpoint:http_requests:rate{W}{{{sel}}}",
                    "{{endpoint}}",
                )
            ],
        ),
        p.time_series("Latency by endpoint", p.SECONDS, latency),
        p.time_series(
            "Requests in flight by endpoint",
            p.COUNT,
            [Q(f"sum by (endpoint) (http_requests_active{{{sel}}})", "{{endpoint}}")],
        ),
    ]


def _dependency_panels(service: str) -> list[Panel]:
    sel = f'service="{service}"'
    return [
        p.time_series(
            "Dependencies up",
            p.NONE,
            [Q(f"min by (dependency) (dependency_up{{{sel}}})", "{{dependency}}")],
            "1 when the last health check reached the dependency, 0 when not.",
            width=8,
        ),
        p.time_series(
            "Dependency call p95",
            p.SECONDS,
            [
                Q(
                    "histogram_quantile(0.95, sum by (dependency, le) "
                    f"(rate(dependency_request_duration_seconds_bucket{{{sel}}}[{W}])))",
                    "{{dependency}}",
                )
            ],
            width=8,
        ),
        p.time_series(
            "Dependency errors",
            p.OPS_PER_SECOND,
            [
                Q(
                    "sum by (dependency, error_type) "
                    f"(rate(dependency_errors_total{{{sel}}}[{W}]))"
                    # Each dependency called without errors reads 0.
                    " or sum by (dependency) (0 * rate("
                    f"dependency_request_duration_seconds_count{{{sel}}}[{W}]))",
                    "{{dependency}} {{error_type}}",
                )
            ],
            width=8,
        ),
    ]


def _p95(metric: str, by: str, window: str = W) -> str:
    return (
        f"histogram_quantile(0.95, sum by ({by}, le) (rate({metric}_bucket[{window}])))"
    )


def _gateway_panels() -> list[Panel]:
    web = 'entrypoint="web"'
    return [
        p.time_series(
            "Authentication checks by outcome",
            p.OPS_PER_SECOND,
            [
                Q(
                    f"sum by (outcome) (rate(gateway_auth_requests_total[{W}]))",
                    "{{outcome}}",
                )
            ],
        ),
        p.time_series(
            "Traefik responses by status code",
            p.PER_SECOND,
            [
                Q(
                    f"sum by (code) (rate(traefik_entrypoint_requests_total{{{web}}}[{W}]))",
                    "{{code}}",
                )
            ],
        ),
        p.time_series(
            "Traefik p95 latency",
            p.SECONDS,
            [
                Q(
                    "histogram_quantile(0.95, sum by (le) (rate("
                    f"traefik_entrypoint_request_duration_seconds_bucket{{{web}}}"
                    f"[{W}])))",
                    "p95",
                )
            ],
        ),
        p.time_series(
            "Availability SLO error ratio",
            p.PERCENT_UNIT,
            [
                Q("slo:gateway_availability_errors:ratio_rate5m", "5m"),
                Q("slo:gateway_availability_errors:ratio_rate1h", "1h"),
            ],
        ),
    ]


def _datasets_panels() -> list[Panel]:
    return [
        p.time_series(
            "Rejected uploads by reason",
            p.OPS_PER_SECOND,
            [
                Q(
                    f"sum by (reason) (rate(datasets_uploads_rejected_total[{W}]))",
                    "{{reason}}",
                )
            ],
        ),
        p.time_series(
            "Ingest stage p95",
            p.SECONDS,
            [Q(_p95("datasets_ingest_duration_seconds", "stage"), "{{stage}}")],
        ),
    ]


def _training_panels() -> list[Panel]:
    return [
        p.time_series(
            "Queue depth and running jobs",
            p.COUNT,
            [
                Q("max(training_queue_depth)", "queued"),
                Q("sum(training_jobs_running)", "running"),
            ],
        ),
        p.time_series(
            "Jobs by outcome",
            p.OPS_PER_SECOND,
            [Q(f"sum by (outcome) (rate(training_jobs_total[{W}]))", "{{outcome}}")],
        ),
        p.time_series(
            "Training duration p95 by model type",
            p.SECONDS,
            [
                Q(
                    "model_type:ml_training_duration_seconds:"
                    f"p95_{s.TRAINING_RATE_WINDOW}",
                    "{{model_type}}",
                )
            ],
            width=24,
        ),
    ]


def _inference_panels() -> list[Panel]:
    return [
        p.time_series(
            "Model cache hits and misses",
            p.OPS_PER_SECOND,
            [
                Q(f"sum(rate(inference_model_cache_hits_total[{W}]))", "hits"),
                Q(f"sum(rate(inference_model_cache_misses_total[{W}]))", "misses"),
            ],
        ),
        p.time_series(
            "Model cache evictions by reason",
            p.OPS_PER_SECOND,
            [
                Q(
                    "sum by (reason) "
                    f"(rate(inference_model_cache_evictions_total[{W}]))",
                    "{{reason}}",
                )
            ],
        ),
        p.time_series(
            "Model cache memory",
            p.BYTES,
            [Q("sum by (instance) (inference_model_cache_bytes)", "{{instance}}")],
        ),
        p.time_series(
            "Models in cache",
            p.COUNT,
            [Q("sum by (instance) (inference_model_cache_entries)", "{{instance}}")],
        ),
        p.time_series(
            "Model load p95",
            p.SECONDS,
            [Q(_p95("inference_model_load_duration_seconds", "service"), "load")],
        ),
        p.time_series(
            "Prediction p99 by model type",
            p.SECONDS,
            [Q(f"model_type:ml_prediction_latency_seconds:p99_{W}", "{{model_type}}")],
        ),
    ]


def _analysis_panels() -> list[Panel]:
    return [
        p.time_series(
            "OpenAI call p95 by outcome",
            p.SECONDS,
            [Q(_p95("openai_request_duration_seconds", "outcome"), "{{outcome}}")],
        ),
        p.time_series(
            "OpenAI errors and retries",
            p.OPS_PER_SECOND,
            [
                Q(
                    f"sum by (error_type) (rate(openai_errors_total[{W}]))",
                    "{{error_type}}",
                ),
                Q(f"sum(rate(openai_retries_total[{W}]))", "retries"),
            ],
        ),
        p.time_series(
            "OpenAI tokens",
            p.OPS_PER_SECOND,
            [
                Q(
                    f"sum by (direction) (rate(openai_tokens_total[{W}]))",
                    "{{direction}}",
                )
            ],
        ),
        p.time_series(
            "OpenAI circuit state",
            p.NONE,
            [Q("max(openai_circuit_state)", "0 closed, 1 half-open, 2 open")],
        ),
        p.time_series(
            "Analysis cache hits and misses",
            p.OPS_PER_SECOND,
            [
                Q(f"sum(rate(analysis_cache_hits_total[{W}]))", "hits"),
                Q(f"sum(rate(analysis_cache_misses_total[{W}]))", "misses"),
            ],
        ),
        p.time_series(
            "Dropped findings by reason",
            p.OPS_PER_SECOND,
            [
                Q(
                    f"sum by (reason) (rate(analysis_findings_dropped_total[{W}]))",
                    "{{reason}}",
                )
            ],
        ),
    ]


SPECIFIC_PANELS: dict[str, Callable[[], list[Panel]]] = {
    "gateway": _gateway_panels,
    "datasets": _datasets_panels,
    "training": _training_panels,
    "inference": _inference_panels,
    "ai-analysis": _analysis_panels,
}


def service_dashboard(service: str) -> dict:
    """Build the dashboard of one service, with uid `service-<name>`."""
    board = p.new_dashboard(
        f"service-{service}", f"Service: {service}", ["service", service]
    )
    board = board.with_row(p.row("HTTP"))
    for panel in _http_panels(service):
        board = board.with_panel(panel)
    board = board.with_row(p.row("Dependencies"))
    for panel in _dependency_panels(service):
        board = board.with_panel(panel)
    board = board.with_row(p.row(f"{service} internals"))
    for panel in SPECIFIC_PANELS[service]():
        board = board.with_panel(panel)
    return p.to_dict(board)
