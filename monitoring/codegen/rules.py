"""Build the Prometheus recording and alerting rules from settings."""

from dataclasses import dataclass, field

from monitoring.codegen import settings as s

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class Alert:
    """An alerting rule with the annotations every alert must carry."""

    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str
    labels: dict[str, str] = field(default_factory=dict)


def runbook_url(alert_name: str) -> str:
    """Return the link to an alert's section of docs/runbook.md."""
    return f"{s.RUNBOOK_URL}#{alert_name.lower()}"


def _record(name: str, expr: str) -> dict:
    return {"record": name, "expr": expr}


def _quantile_rules(metric: str, by: str, level: str, window: str) -> list[dict]:
    rules = []
    for label, quantile in QUANTILES.items():
        expr = (
            f"histogram_quantile({quantile}, sum by ({by}, le) "
            f"(rate({metric}_bucket[{window}])))"
        )
        rules.append(_record(f"{level}:{metric}:{label}_{window}", expr))
    return rules


def http_recording_rules() -> list[dict]:
    """Build the request rate, error rate, latency and concurrency rules."""
    window = s.RATE_WINDOW
    errors = s.SERVER_ERROR_SELECTOR
    rules = [
        _record(
            f"service:http_requests:rate{window}",
            f"sum by (service) (rate(http_requests_total[{window}]))",
        ),
        _record(
            f"service:http_requests_5xx:rate{window}",
            f"sum by (service) (rate(http_requests_total{{{errors}}}[{window}]))",
        ),
        _record(
            f"service_endpoint:http_requests:rate{window}",
            f"sum by (service, endpoint) (rate(http_requests_total[{window}]))",
        ),
        _record(
            f"service_endpoint:http_requests_5xx:rate{window}",
            "sum by (service, endpoint) "
            f"(rate(http_requests_total{{{errors}}}[{window}]))",
        ),
        _record(
            "service:http_requests_active:sum",
            "sum by (service) (http_requests_active)",
        ),
    ]
    rules += _quantile_rules(
        "http_request_duration_seconds", "service, endpoint", "service_endpoint", window
    )
    return rules


def ml_recording_rules() -> list[dict]:
    """Build the prediction, training and prediction-volume rules."""
    window = s.RATE_WINDOW
    rules = _quantile_rules(
        "ml_prediction_latency_seconds", "service, model_type", "model_type", window
    )
    rules += _quantile_rules(
        "ml_training_duration_seconds",
        "service, model_type",
        "model_type",
        s.TRAINING_RATE_WINDOW,
    )
    rules.append(
        _record(
            f"model_type:ml_prediction_latency_seconds:rate{window}",
            "sum by (service, model_type) "
            f"(rate(ml_prediction_latency_seconds_count[{window}]))",
        )
    )
    rules.append(
        _record(
            f"service:business_predictions_made:rate{window}",
            f"sum by (service) (rate(business_predictions_made_total[{window}]))",
        )
    )
    return rules


def slo_windows() -> list[str]:
    """Return every window any burn-rate condition reads, shortest first."""
    windows = set()
    for pair in s.FAST_BURN_WINDOWS + s.SLOW_BURN_WINDOWS:
        windows.update((pair.long, pair.short))
    return sorted(windows, key=_window_seconds)


def _window_seconds(window: str) -> int:
    units = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
    return int(window[:-1]) * units[window[-1]]


def slo_ratio_record(slo: s.Slo, window: str) -> str:
    """Return the name of the recorded error ratio of an SLO over a window."""
    return f"slo:{slo.name}_errors:ratio_rate{window}"


def slo_recording_rules(slo: s.Slo) -> list[dict]:
    """Build the error ratio of one SLO over every burn-rate window."""
    return [
        _record(
            slo_ratio_record(slo, window), slo.error_ratio.replace("{window}", window)
        )
        for window in slo_windows()
    ]


def _burn_condition(slo: s.Slo, pairs: tuple[s.BurnWindow, ...]) -> str:
    budget = 1 - slo.objective
    parts = []
    for pair in pairs:
        threshold = f"{round(pair.factor * budget, 6):g}"
        parts.append(
            "(\n"
            f"  {slo_ratio_record(slo, pair.long)} > {threshold}\n"
            "  and\n"
            f"  {slo_ratio_record(slo, pair.short)} > {threshold}\n"
            ")"
        )
    return "\nor\n".join(parts)


def _burn_windows_text(pairs: tuple[s.BurnWindow, ...]) -> str:
    return " or ".join(f"{p.factor:g}x over {p.long} and {p.short}" for p in pairs)


def slo_alerts(slo: s.Slo) -> list[Alert]:
    """Build the fast (paging) and slow (ticket) burn-rate alerts of an SLO."""
    prefix = "".join(word.capitalize() for word in slo.title.split())
    title = slo.title
    labels = {"service": slo.service, "slo": slo.name}
    objective = f"{slo.objective * 100:g}%"
    fast = Alert(
        name=f"{prefix}BudgetFastBurn",
        expr=_burn_condition(slo, s.FAST_BURN_WINDOWS),
        duration=s.FAST_BURN_FOR,
        severity="critical",
        summary=f"The {title} error budget is burning fast enough to run out "
        "within days.",
        description=(
            f"Objective: {objective} of {slo.description} over {s.SLO_PERIOD}. "
            "The error budget is burning at "
            f"{_burn_windows_text(s.FAST_BURN_WINDOWS)} the rate that would "
            "spend it exactly in that period. "
            "The error ratio over the longer window of the firing condition "
            "is {{ $value | humanizePercentage }}."
        ),
        labels=labels,
    )
    slow = Alert(
        name=f"{prefix}BudgetSlowBurn",
        expr=_burn_condition(slo, s.SLOW_BURN_WINDOWS),
        duration=s.SLOW_BURN_FOR,
        severity="warning",
        summary=f"The {title} error budget is burning faster than it can last "
        "the period.",
        description=(
            f"Objective: {objective} of {slo.description} over {s.SLO_PERIOD}. "
            "The error budget is burning at "
            f"{_burn_windows_text(s.SLOW_BURN_WINDOWS)} the rate that would "
            "spend it exactly in that period. "
            "The error ratio over the longer window of the firing condition "
            "is {{ $value | humanizePercentage }}."
        ),
        labels=labels,
    )
    return [fast, slow]


def contract_alerts() -> list[Alert]:
    """Build the threshold alerts on the services' metrics."""
    window = s.RATE_WINDOW
    users = s.ACTIVE_USERS_WINDOW_SELECTOR
    users_by = "max by (service, time_window)"
    offset = s.ACTIVE_USERS_COMPARE_OFFSET
    return [
        Alert(
            name="High5xxErrorRate",
            expr=f"service:http_requests_5xx:rate{window} "
            f"> {s.ERROR_RATE_THRESHOLD_PER_SECOND}",
            duration=s.ERROR_RATE_FOR,
            severity="critical",
            summary="A service is answering more than "
            f"{s.ERROR_RATE_THRESHOLD_PER_SECOND} requests per second with a "
            "server error.",
            description="Service {{ $labels.service }} returned "
            '{{ $value | printf "%.2f" }} responses with a 5xx status per second, '
            f"averaged over {window}.",
        ),
        Alert(
            name="HighPredictionLatency",
            expr=f"model_type:ml_prediction_latency_seconds:p99_{window} "
            f"> {s.PREDICTION_P99_THRESHOLD_SECONDS}",
            duration=s.PREDICTION_LATENCY_FOR,
            severity="warning",
            summary="The 99th percentile of prediction latency is above "
            f"{s.PREDICTION_P99_THRESHOLD_SECONDS} s.",
            description="Predictions of {{ $labels.model_type }} models on "
            "service {{ $labels.service }} have a p99 latency of "
            f"{{{{ $value | humanizeDuration }}}} over {window}.",
        ),
        Alert(
            name="HighRequestLatency",
            expr=f"service_endpoint:http_request_duration_seconds:p95_{window} "
            f"> {s.HTTP_P95_THRESHOLD_SECONDS}",
            duration=s.HTTP_LATENCY_FOR,
            severity="warning",
            summary="The 95th percentile of HTTP request latency is above "
            f"{s.HTTP_P95_THRESHOLD_SECONDS} s.",
            description="Endpoint {{ $labels.endpoint }} on service "
            "{{ $labels.service }} has a p95 latency of "
            f"{{{{ $value | humanizeDuration }}}} over {window}.",
        ),
        Alert(
            name="HighActiveRequests",
            expr=f"service:http_requests_active:sum > {s.ACTIVE_REQUESTS_THRESHOLD}",
            duration=s.ACTIVE_REQUESTS_FOR,
            severity="warning",
            summary=f"A service has more than {s.ACTIVE_REQUESTS_THRESHOLD} "
            "requests in flight.",
            description="Service {{ $labels.service }} has {{ $value }} requests "
            "in flight across its instances.",
        ),
        Alert(
            name="HighTrainingDuration",
            expr="model_type:ml_training_duration_seconds:"
            f"p95_{s.TRAINING_RATE_WINDOW} > {s.TRAINING_P95_THRESHOLD_SECONDS}",
            duration=s.TRAINING_DURATION_FOR,
            severity="warning",
            summary="The 95th percentile of training duration is above "
            f"{s.TRAINING_P95_THRESHOLD_SECONDS} s.",
            description="Training of {{ $labels.model_type }} models on service "
            "{{ $labels.service }} has a p95 duration of "
            f"{{{{ $value | humanizeDuration }}}} over {s.TRAINING_RATE_WINDOW}.",
        ),
        Alert(
            name="LowModelAccuracy",
            expr="max by (service, model_id, model_type, metric_name) "
            f"(ml_model_accuracy{{{s.MODEL_ACCURACY_SELECTOR}}}) "
            f"< {s.MODEL_ACCURACY_THRESHOLD}",
            duration=s.MODEL_ACCURACY_FOR,
            severity="info",
            summary=f"A trained model scores below {s.MODEL_ACCURACY_THRESHOLD}.",
            description="Model {{ $labels.model_id }} ({{ $labels.model_type }}) "
            "has {{ $labels.metric_name }} "
            '{{ $value | printf "%.3f" }}.',
        ),
        Alert(
            name="ActiveUsersDrop",
            expr=(
                f"{users_by} (business_active_users{{{users}}})\n"
                f"  < {s.ACTIVE_USERS_DROP_RATIO} * {users_by} "
                f"(business_active_users{{{users}}} offset {offset})\n"
                "and\n"
                f"{users_by} (business_active_users{{{users}}} offset {offset}) "
                f">= {s.ACTIVE_USERS_MIN_BASELINE}"
            ),
            duration=s.ACTIVE_USERS_FOR,
            severity="warning",
            summary="Active users fell more than "
            f"{round((1 - s.ACTIVE_USERS_DROP_RATIO) * 100):g}% compared with "
            "a week ago.",
            description="Service {{ $labels.service }} counts {{ $value }} "
            "active users in the {{ $labels.time_window }} window, down more "
            f"than {round((1 - s.ACTIVE_USERS_DROP_RATIO) * 100):g}% from "
            f"{offset} earlier.",
        ),
        Alert(
            name="ServiceDown",
            # Traefik's target has no `service` label (see settings), so it
            # gets the gateway's here.
            expr='label_replace(up == 0, "service", "gateway", "job", "traefik")',
            duration=s.SERVICE_DOWN_FOR,
            severity="critical",
            summary="Prometheus cannot scrape a service.",
            description="Target {{ $labels.instance }} of job {{ $labels.job }} "
            "has not answered /metrics for "
            f"{s.SERVICE_DOWN_FOR}.",
        ),
    ]


def all_alerts() -> list[Alert]:
    """Build every alert, threshold alerts first, then the SLO burn rates."""
    alerts = contract_alerts()
    for slo in s.SLOS:
        alerts += slo_alerts(slo)
    return alerts


def _alert_rule(alert: Alert) -> dict:
    return {
        "alert": alert.name,
        "expr": alert.expr,
        "for": alert.duration,
        "labels": {"severity": alert.severity, **alert.labels},
        "annotations": {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": runbook_url(alert.name),
        },
    }


def recording_rules_file() -> dict:
    """Build the content of monitoring/prometheus/rules/recording.yml."""
    groups = [
        {"name": "narrative.http", "rules": http_recording_rules()},
        {"name": "narrative.ml", "rules": ml_recording_rules()},
    ]
    for slo in s.SLOS:
        groups.append(
            {"name": f"narrative.slo.{slo.name}", "rules": slo_recording_rules(slo)}
        )
    return {"groups": groups}


def alerting_rules_file() -> dict:
    """Build the content of monitoring/prometheus/rules/alerts.yml."""
    rules = [_alert_rule(alert) for alert in all_alerts()]
    return {"groups": [{"name": "narrative.alerts", "rules": rules}]}
