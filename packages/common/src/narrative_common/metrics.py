"""HTTP and dependency metrics shared by every service.

Names and labels follow the operations runbook: `http_request_duration_seconds`,
`http_requests_total` and `http_requests_active`, labelled with the route
template (`/api/v1/models/{model_id}/predict`), never the raw path.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

# Predictions count as fast under 10 ms, so the buckets resolve 0.5 ms to 10 ms
# finely and still reach the 1 s and 2 s alert thresholds.
LATENCY_BUCKETS_SECONDS = (
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

OTHER = "other"
UNMATCHED_ENDPOINT = "unmatched"


class BoundedLabel:
    """Map unbounded ids to a bounded label set.

    The first `max_values` distinct values keep their own label value. Every
    later value is reported as "other", so the label has at most
    `max_values + 1` values per process.
    """

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self.max_values:
            self._seen.add(value)
            return value
        return OTHER


class HTTPMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        # method: HTTP method. endpoint: route template, or "unmatched".
        # status_code: the response's status code.
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response, by route template.",
            ["method", "endpoint", "status_code"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.requests = Counter(
            "http_requests_total",
            "Requests answered, by route template and status code.",
            ["method", "endpoint", "status_code"],
            registry=registry,
        )
        self.active = Gauge(
            "http_requests_active",
            "Requests in progress, by route template.",
            ["method", "endpoint"],
            registry=registry,
        )


class DependencyMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        # dependency: mongodb, redis, s3, openai or a sibling service name.
        self.up = Gauge(
            "dependency_up",
            "1 when the last health check of the dependency passed, else 0.",
            ["dependency"],
            registry=registry,
        )
        # operation: a bounded verb such as find, put_object or GET.
        self.duration = Histogram(
            "dependency_request_duration_seconds",
            "Duration of calls to a dependency.",
            ["dependency", "operation"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        # error_type: the exception class name, a bounded set.
        self.errors = Counter(
            "dependency_errors_total",
            "Failed calls to a dependency, by exception type.",
            ["dependency", "error_type"],
            registry=registry,
        )

    @contextmanager
    def track(self, dependency: str, operation: str) -> Iterator[None]:
        """Time one call and count it as an error if it raises."""
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.errors.labels(dependency, type(exc).__name__).inc()
            raise
        finally:
            self.duration.labels(dependency, operation).observe(
                time.perf_counter() - start
            )


HTTP_METRICS = HTTPMetrics()
DEPENDENCY_METRICS = DependencyMetrics()


def metrics_response(_request: Request) -> Response:
    """Serve the process's metrics in the Prometheus text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
