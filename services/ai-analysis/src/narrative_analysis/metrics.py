"""Metrics of the ai-analysis service: OpenAI calls, the result cache, fact checks."""

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# OpenAI requests take seconds, not milliseconds, so the buckets span 0.1 s
# to the longest timeout worth configuring.
OPENAI_BUCKETS_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class AnalysisMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        # outcome: success, rate_limited, server_error, timeout, connection_error,
        # client_error.
        self.openai_duration = Histogram(
            "openai_request_duration_seconds",
            "Duration of one OpenAI request (one attempt), by outcome.",
            ["outcome"],
            buckets=OPENAI_BUCKETS_SECONDS,
            registry=registry,
        )
        # error_type: rate_limited, server_error, timeout, connection_error,
        # client_error, invalid_output, circuit_open.
        self.openai_errors = Counter(
            "openai_errors_total",
            "Failed OpenAI requests and unusable replies, by error type.",
            ["error_type"],
            registry=registry,
        )
        self.openai_retries = Counter(
            "openai_retries_total",
            "OpenAI requests sent again after a retryable failure.",
            registry=registry,
        )
        # direction: prompt or completion.
        self.openai_tokens = Counter(
            "openai_tokens_total",
            "Tokens used by OpenAI requests, as reported in each reply's usage.",
            ["direction"],
            registry=registry,
        )
        self.openai_circuit_state = Gauge(
            "openai_circuit_state",
            "State of the OpenAI circuit breaker: 0 closed, 1 half-open, 2 open.",
            registry=registry,
        )
        self.cache_hits = Counter(
            "analysis_cache_hits_total",
            "Analysis requests answered from the Redis result cache.",
            registry=registry,
        )
        self.cache_misses = Counter(
            "analysis_cache_misses_total",
            "Analysis requests not found in the Redis result cache.",
            registry=registry,
        )
        # reason: unknown_source, value_mismatch or unsourced_number.
        self.findings_dropped = Counter(
            "analysis_findings_dropped_total",
            "Findings removed because a cited number did not match its field.",
            ["reason"],
            registry=registry,
        )


METRICS = AnalysisMetrics()
