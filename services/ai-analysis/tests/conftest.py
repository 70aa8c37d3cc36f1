from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from servers import FakeOpenAI, FakeOwners

from narrative_analysis.llm.breaker import CircuitBreaker
from narrative_analysis.llm.client import OpenAIClient
from narrative_analysis.metrics import AnalysisMetrics
from narrative_analysis.settings import AnalysisSettings

PII_EMAIL = "ann.smith@example.com"
PII_PHONE_MIN = 4155550101


def small_profile() -> dict:
    """A churn-like profile with an e-mail and a phone column marked as PII."""
    return {
        "rows": 200,
        "columns": [
            {
                "name": "customer_id",
                "type": "identifier",
                "count": 200,
                "missing": 0,
                "distinct": 200,
                "top_values": [{"value": "C-0001", "count": 1}],
            },
            {
                "name": "email",
                "type": "categorical",
                "count": 200,
                "missing": 0,
                "distinct": 199,
                "top_values": [{"value": PII_EMAIL, "count": 2}],
            },
            {
                "name": "phone",
                "type": "numeric",
                "count": 200,
                "missing": 0,
                "distinct": 200,
                "min": PII_PHONE_MIN,
                "max": 4155559999,
                "mean": 4155555000.5,
                "std": 2000.0,
                "quantiles": {"p50": 4155555000},
            },
            {
                "name": "tenure",
                "type": "numeric",
                "count": 200,
                "missing": 0,
                "distinct": 70,
                "min": 0,
                "max": 72,
                "mean": 30.0,
                "std": 20.0,
                "quantiles": {"p25": 9, "p50": 25, "p75": 55},
            },
            {
                "name": "Cabin",
                "type": "categorical",
                "count": 46,
                "missing": 154,
                "distinct": 40,
                "top_values": [{"value": "B96", "count": 3}],
            },
            {
                "name": "Churn",
                "type": "boolean",
                "count": 200,
                "missing": 0,
                "distinct": 2,
                "top_values": [
                    {"value": "No", "count": 147},
                    {"value": "Yes", "count": 53},
                ],
            },
        ],
        "correlations": [{"columns": ["tenure", "phone"], "r": 0.01}],
        "quality_score": {"score": 0.72, "reasons": ["Cabin is mostly missing"]},
        "pii_columns": ["email", "phone"],
    }


def make_settings(base_url: str = "", **overrides) -> AnalysisSettings:
    values = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MODEL": "fake-model",
        "ANALYSIS_OPENAI_TIMEOUT_SECONDS": 0.5,
        "ANALYSIS_OPENAI_MAX_ATTEMPTS": 4,
        "ANALYSIS_OPENAI_MAX_TOTAL_SECONDS": 3.0,
        "ANALYSIS_OPENAI_BACKOFF_INITIAL_SECONDS": 0.05,
        "ANALYSIS_OPENAI_BACKOFF_MAX_SECONDS": 0.2,
        "ANALYSIS_OPENAI_RETRY_AFTER_MAX_SECONDS": 0.4,
        "ANALYSIS_CIRCUIT_FAILURE_THRESHOLD": 3,
        "ANALYSIS_CIRCUIT_RESET_SECONDS": 0.5,
    }
    values.update(overrides)
    if not values["OPENAI_BASE_URL"]:
        values.pop("OPENAI_BASE_URL")
    return AnalysisSettings(**values)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def fake_owners() -> Iterator[FakeOwners]:
    fake = FakeOwners()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture
def metrics() -> AnalysisMetrics:
    return AnalysisMetrics(CollectorRegistry())


def sample(metrics: AnalysisMetrics, name: str, labels: dict | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def make_client(fake_openai, metrics):
    clients = []

    def make(**overrides) -> OpenAIClient:
        settings = make_settings(fake_openai.base_url, **overrides)
        breaker = CircuitBreaker(
            settings.circuit_failure_threshold, settings.circuit_reset_seconds
        )
        client = OpenAIClient(settings, metrics, breaker)
        clients.append(client)
        return client

    yield make
