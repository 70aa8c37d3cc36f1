"""The OpenAI client against a scripted fake server: retries, budget, repair."""

import asyncio
import time

import pytest
from servers import Reply, rate_limited, server_error

from conftest import sample, small_profile
from narrative_analysis.analysis.profile import normalize_profile
from narrative_analysis.analysis.schemas import DatasetInsights
from narrative_analysis.llm.breaker import CircuitState
from narrative_analysis.llm.client import OpenAIFailure
from narrative_analysis.local.dataset import analyze_dataset

MESSAGES = [{"role": "user", "content": "profile"}]


def valid_reply() -> str:
    return analyze_dataset(normalize_profile(small_profile())).model_dump_json()


async def test_normal_reply_parses_and_counts_tokens(fake_openai, make_client, metrics):
    fake_openai.reset(Reply(content=valid_reply()))
    client = make_client()

    insights = await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert insights.recommended_targets[0].column == "Churn"
    body = fake_openai.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["model"] == "fake-model"
    assert sample(metrics, "openai_tokens_total", {"direction": "prompt"}) == 120
    assert sample(metrics, "openai_tokens_total", {"direction": "completion"}) == 30
    assert (
        sample(metrics, "openai_request_duration_seconds_count", {"outcome": "success"})
        == 1
    )


async def test_429_waits_for_retry_after(fake_openai, make_client, metrics):
    fake_openai.reset(rate_limited("0.3"), Reply(content=valid_reply()))
    client = make_client()

    await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    gap = fake_openai.request_times[1] - fake_openai.request_times[0]
    assert gap >= 0.28
    assert sample(metrics, "openai_retries_total") == 1
    assert sample(metrics, "openai_errors_total", {"error_type": "rate_limited"}) == 1


async def test_retry_after_is_capped(fake_openai, make_client):
    fake_openai.reset(rate_limited("120"), Reply(content=valid_reply()))
    client = make_client(ANALYSIS_OPENAI_RETRY_AFTER_MAX_SECONDS=0.2)

    start = time.monotonic()
    await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert time.monotonic() - start < 1.5
    gap = fake_openai.request_times[1] - fake_openai.request_times[0]
    assert gap >= 0.18


async def test_500_is_retried_then_succeeds(fake_openai, make_client, metrics):
    fake_openai.reset(server_error(), server_error(), Reply(content=valid_reply()))
    client = make_client()

    await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert len(fake_openai.requests) == 3
    assert sample(metrics, "openai_retries_total") == 2
    assert sample(metrics, "openai_errors_total", {"error_type": "server_error"}) == 2


async def test_persistent_500_stops_after_max_attempts(fake_openai, make_client):
    fake_openai.reset(*[server_error() for _ in range(10)])
    client = make_client(ANALYSIS_CIRCUIT_FAILURE_THRESHOLD=100)

    with pytest.raises(OpenAIFailure) as caught:
        await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert len(fake_openai.requests) == 4
    assert caught.value.error_type == "server_error"
    assert "server error (HTTP 500)" in caught.value.message


async def test_400_is_not_retried(fake_openai, make_client):
    fake_openai.reset(Reply(status=400, raw_body='{"error": {"message": "bad"}}'))
    client = make_client()

    with pytest.raises(OpenAIFailure) as caught:
        await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert len(fake_openai.requests) == 1
    assert caught.value.error_type == "client_error"
    assert client.breaker.consecutive_failures == 0


async def test_slow_reply_times_out_within_budget(fake_openai, make_client, metrics):
    fake_openai.reset(
        *[Reply(content=valid_reply(), delay_seconds=2) for _ in range(6)]
    )
    client = make_client(
        ANALYSIS_OPENAI_TIMEOUT_SECONDS=0.3,
        ANALYSIS_OPENAI_MAX_TOTAL_SECONDS=1.0,
        ANALYSIS_OPENAI_MAX_ATTEMPTS=10,
        ANALYSIS_CIRCUIT_FAILURE_THRESHOLD=100,
    )

    start = time.monotonic()
    with pytest.raises(OpenAIFailure) as caught:
        await client.structured(MESSAGES, DatasetInsights, "dataset_insights")
    elapsed = time.monotonic() - start

    assert elapsed < 1.5
    assert caught.value.error_type == "timeout"
    assert "did not answer within the time limit" in caught.value.message
    assert sample(metrics, "openai_errors_total", {"error_type": "timeout"}) >= 2


async def test_total_time_is_bounded_under_429(fake_openai, make_client):
    fake_openai.reset(*[rate_limited("0.4") for _ in range(20)])
    client = make_client(
        ANALYSIS_OPENAI_MAX_TOTAL_SECONDS=1.0,
        ANALYSIS_OPENAI_MAX_ATTEMPTS=20,
        ANALYSIS_CIRCUIT_FAILURE_THRESHOLD=100,
    )

    start = time.monotonic()
    with pytest.raises(OpenAIFailure) as caught:
        await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert time.monotonic() - start < 1.3
    assert caught.value.error_type == "rate_limited"
    assert 2 <= len(fake_openai.requests) <= 4


async def test_malformed_reply_is_repaired_once(fake_openai, make_client, metrics):
    fake_openai.reset(Reply(content='{"summary": 3'), Reply(content=valid_reply()))
    client = make_client()

    insights = await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert insights.summary
    repair = fake_openai.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"summary": 3'}
    assert "did not match the required JSON schema" in repair[-1]["content"]
    assert sample(metrics, "openai_errors_total", {"error_type": "invalid_output"}) == 1


async def test_malformed_twice_raises_invalid_output(fake_openai, make_client):
    fake_openai.reset(
        Reply(content='{"summary": "x"}'), Reply(content="not json at all")
    )
    client = make_client()

    with pytest.raises(OpenAIFailure) as caught:
        await client.structured(MESSAGES, DatasetInsights, "dataset_insights")

    assert caught.value.error_type == "invalid_output"
    assert "did not match the analysis schema" in caught.value.message
    assert len(fake_openai.requests) == 2


async def test_circuit_opens_then_half_opens(fake_openai, make_client, metrics):
    fake_openai.reset(*[server_error() for _ in range(3)])
    client = make_client(ANALYSIS_OPENAI_MAX_ATTEMPTS=1)

    for _ in range(3):
        with pytest.raises(OpenAIFailure):
            await client.structured(MESSAGES, DatasetInsights, "dataset_insights")
    assert client.breaker.state is CircuitState.OPEN

    with pytest.raises(OpenAIFailure) as caught:
        await client.structured(MESSAGES, DatasetInsights, "dataset_insights")
    assert caught.value.error_type == "circuit_open"
    assert len(fake_openai.requests) == 3
    assert sample(metrics, "openai_errors_total", {"error_type": "circuit_open"}) == 1

    await asyncio.sleep(0.55)
    assert client.breaker.state is CircuitState.HALF_OPEN
    fake_openai.reset(Reply(content=valid_reply()))
    await client.structured(MESSAGES, DatasetInsights, "dataset_insights")
    assert client.breaker.state is CircuitState.CLOSED
