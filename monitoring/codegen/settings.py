"""Thresholds, windows, selectors and targets for all monitoring output.

Every alert rule, scrape config and dashboard is generated from the values
here, so a threshold changes in this file and nowhere else.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ScrapeTarget:
    """One process that Prometheus scrapes."""

    job: str
    # Owning service, attached to every series as the `service` label so
    # that Alertmanager can group and inhibit per service. None keeps the
    # target's own `service` label intact (Traefik exports one).
    service: str | None
    local_port: int
    # Host name in docker compose and Kubernetes.
    cluster_host: str
    metrics_path: str = "/metrics"


# Ports are those of the local stack. Traefik serves its metrics on a
# separate entry point, and the training worker serves /metrics only.
SCRAPE_TARGETS = (
    ScrapeTarget("traefik", None, 8082, "narrative-traefik"),
    ScrapeTarget("gateway", "gateway", 8001, "narrative-gateway"),
    ScrapeTarget("datasets", "datasets", 8010, "narrative-datasets"),
    ScrapeTarget("training", "training", 8020, "narrative-training"),
    ScrapeTarget("training-worker", "training", 8021, "narrative-training-worker"),
    ScrapeTarget("inference", "inference", 8030, "narrative-inference"),
    ScrapeTarget("ai-analysis", "ai-analysis", 8040, "narrative-ai-analysis"),
    ScrapeTarget("prometheus", "prometheus", 9090, "localhost"),
)

# The FastAPI services, each with its own dashboard.
APP_SERVICES = ("gateway", "datasets", "training", "inference", "ai-analysis")

# Scrape every 15 s: the shortest rate window below (5m) then holds 20
# samples, and four are enough for rate() to survive a missed scrape.
SCRAPE_INTERVAL = "15s"
EVALUATION_INTERVAL = "15s"

# Alert annotations link to `<RUNBOOK_URL>#<alert name in lower case>`, which
# is the anchor GitHub gives the heading `### <AlertName>` in docs/runbook.md.
# NOTE: the repository host is not fixed yet; change this base when it is.
RUNBOOK_URL = (
    "https://github.com/narrative-modeling/narrative-modeling/blob/main/docs/runbook.md"
)

# Window of rate() for the HTTP and prediction recording rules and alerts.
RATE_WINDOW = "5m"

# Training jobs are rare (a few an hour), so a 5m window is usually empty.
# One hour holds enough finished jobs for a p95.
TRAINING_RATE_WINDOW = "1h"

# Server errors, counted by the services' middleware.
SERVER_ERROR_SELECTOR = 'status_code=~"5.."'

# High5xxErrorRate: more than 5 server errors per second in one service,
# averaged over RATE_WINDOW. Critical: users are getting failures now.
ERROR_RATE_THRESHOLD_PER_SECOND = 5
ERROR_RATE_FOR = "2m"

# HighPredictionLatency: p99 of ml_prediction_latency_seconds above 1 s per
# model type, held for 5 minutes.
PREDICTION_P99_THRESHOLD_SECONDS = 1
PREDICTION_LATENCY_FOR = "5m"

# HighRequestLatency: p95 of http_request_duration_seconds above 2 s per
# endpoint. 2 s is above every bucket but 2.5, 5 and 10, so the bucket
# boundaries resolve it. Held for 10 minutes to skip single slow uploads.
HTTP_P95_THRESHOLD_SECONDS = 2
HTTP_LATENCY_FOR = "10m"

# HighActiveRequests: more than 100 requests in flight in one service. Past
# that, requests queue in the event loop or wait on a dependency.
ACTIVE_REQUESTS_THRESHOLD = 100
ACTIVE_REQUESTS_FOR = "5m"

# HighTrainingDuration: p95 of ml_training_duration_seconds above 600 s per
# model type over TRAINING_RATE_WINDOW.
TRAINING_P95_THRESHOLD_SECONDS = 600
TRAINING_DURATION_FOR = "15m"

# LowModelAccuracy: a trained model scores below 0.6. Only scores where
# higher is better and 1 is perfect are compared; error metrics such as
# rmse are left out.
MODEL_ACCURACY_THRESHOLD = 0.6
MODEL_ACCURACY_SELECTOR = 'metric_name=~"accuracy|balanced_accuracy|f1|roc_auc|r2"'
MODEL_ACCURACY_FOR = "5m"

# ActiveUsersDrop: daily active users more than 20% below the same time one
# week earlier. A week, not a day, so that weekends do not look like drops.
ACTIVE_USERS_WINDOW_SELECTOR = 'time_window="day"'
ACTIVE_USERS_DROP_RATIO = 0.8
ACTIVE_USERS_COMPARE_OFFSET = "1w"
# Below this many users a week ago, a 20% drop is a handful of people.
ACTIVE_USERS_MIN_BASELINE = 10
ACTIVE_USERS_FOR = "30m"

# ServiceDown: a scrape target does not respond on /metrics.
SERVICE_DOWN_FOR = "2m"


@dataclass(frozen=True)
class BurnWindow:
    """A multiwindow burn-rate condition: both windows must burn this fast."""

    long: str
    short: str
    # Multiple of the rate that would spend the whole budget in SLO_PERIOD.
    factor: float


@dataclass(frozen=True)
class Slo:
    """A service level objective with its fast (paging) and slow alerts."""

    # Snake-case name used in recording rule names and the `slo` label.
    name: str
    # Words that name the SLO in alert names and summaries.
    title: str
    service: str
    # Fraction of good events the objective promises over SLO_PERIOD.
    objective: float
    # What a good event is, completing "<objective> of ...".
    description: str
    # PromQL for the ratio of bad events to all events, with `{window}` for
    # the range.
    error_ratio: str


# The error budget is measured over 30 days.
SLO_PERIOD = "30d"

# Burn-rate pairs from the Google SRE workbook, chapter "Alerting on SLOs":
# 14.4x over 1h spends 2% of a 30-day budget, 6x over 6h spends 5%, both
# worth a page; 3x over 1d and 1x over 3d spend 10% and are worth a ticket.
FAST_BURN_WINDOWS = (BurnWindow("1h", "5m", 14.4), BurnWindow("6h", "30m", 6))
SLOW_BURN_WINDOWS = (BurnWindow("1d", "2h", 3), BurnWindow("3d", "6h", 1))
FAST_BURN_FOR = "2m"
SLOW_BURN_FOR = "15m"

# Requests that reach Traefik's `web` entry point and get a 5xx count as
# failed, including the 502 and 503 Traefik returns when a service is down.
GATEWAY_AVAILABILITY = Slo(
    name="gateway_availability",
    title="gateway availability",
    service="gateway",
    objective=0.999,
    description="requests through the gateway get a response below 500",
    # With no 5xx at all the numerator has no series; `or vector(0)` makes
    # the ratio 0 then, so the recorded ratio exists whenever traffic does.
    error_ratio=(
        "(\n"
        '  sum(rate(traefik_entrypoint_requests_total{entrypoint="web",code=~"5.."}'
        "[{window}]))\n  or vector(0)\n)\n/\n"
        'sum(rate(traefik_entrypoint_requests_total{entrypoint="web"}[{window}]))'
    ),
)

# Single-row predictions on the inference service slower than 25 ms count as
# failed. 0.025 is a bucket boundary of http_request_duration_seconds.
PREDICTION_ENDPOINT = "/api/v1/models/{model_id}/predict"
PREDICTION_LATENCY_SLO_SECONDS = 0.025
PREDICTION_LATENCY = Slo(
    name="prediction_latency",
    title="prediction latency",
    service="inference",
    objective=0.99,
    description="single-row predictions are answered within 25 ms",
    error_ratio=(
        "1 - (\n"
        "  sum(rate(http_request_duration_seconds_bucket"
        f'{{job="inference",endpoint="{PREDICTION_ENDPOINT}",'
        f'le="{PREDICTION_LATENCY_SLO_SECONDS}"}}[{{window}}]))\n'
        "  /\n"
        "  sum(rate(http_request_duration_seconds_count"
        f'{{job="inference",endpoint="{PREDICTION_ENDPOINT}"}}[{{window}}]))\n'
        ")"
    ),
)

SLOS = (GATEWAY_AVAILABILITY, PREDICTION_LATENCY)
