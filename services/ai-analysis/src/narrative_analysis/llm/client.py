"""Structured-output calls to OpenAI with retries, a time budget and a breaker.

One request is retried on 429, 5xx, timeouts and connection errors, with
exponential backoff and jitter; a 429's Retry-After is honoured up to a cap.
Attempts are bounded in number, and every attempt's timeout and every wait
is cut to what is left of the total time budget. Each failed attempt counts
against the circuit breaker, so a long outage stops the calls altogether.

The SDK's own retries are off (max_retries=0) because tenacity does them.
"""

import asyncio
import email.utils
import json
import time
from typing import TypeVar

import openai
import structlog
from openai import AsyncOpenAI
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from narrative_analysis.llm.breaker import CircuitBreaker, CircuitOpenError
from narrative_analysis.llm.prompts import REPAIR
from narrative_analysis.metrics import AnalysisMetrics
from narrative_analysis.settings import AnalysisSettings

log = structlog.stdlib.get_logger(__name__)

T = TypeVar("T", bound=BaseModel)


class OpenAIFailure(Exception):
    """OpenAI returned no usable reply. `message` is the reason shown as `fallback_reason`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class _BudgetExhausted(Exception):
    pass


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APITimeoutError | _BudgetExhausted):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else "client_error"
    return "client_error"


def _retryable(exc: BaseException) -> bool:
    return _outcome(exc) in (
        "rate_limited",
        "timeout",
        "connection_error",
        "server_error",
    ) and not isinstance(exc, _BudgetExhausted)


def retry_after_seconds(exc: BaseException) -> float | None:
    """Read Retry-After (seconds or an HTTP date) or retry-after-ms from a 429."""
    if not isinstance(exc, openai.RateLimitError):
        return None
    headers = exc.response.headers
    if "retry-after-ms" in headers:
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        return max(parsed.timestamp() - time.time(), 0.0)


class OpenAIClient:
    def __init__(
        self,
        settings: AnalysisSettings,
        metrics: AnalysisMetrics,
        breaker: CircuitBreaker,
        client: AsyncOpenAI | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.breaker = breaker
        api_key = settings.openai_api_key
        self._client = client or AsyncOpenAI(
            api_key=api_key.get_secret_value() if api_key else "unset",
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_seconds,
            max_retries=0,
        )
        self._backoff = wait_exponential_jitter(
            multiplier=settings.openai_backoff_initial_seconds,
            max=settings.openai_backoff_max_seconds,
            jitter=settings.openai_backoff_initial_seconds,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def structured(
        self, messages: list[dict], schema: type[T], schema_name: str
    ) -> T:
        """Ask for a reply matching schema; repair it once if it does not match."""
        reply = await self._complete(messages, schema, schema_name)
        try:
            return schema.model_validate_json(reply)
        except ValidationError as exc:
            errors = _short_errors(exc)
            self.metrics.openai_errors.labels("invalid_output").inc()
            log.warning("openai.reply.invalid", attempt="first", errors=errors)
        repair = [
            *messages,
            {"role": "assistant", "content": reply},
            {"role": "user", "content": REPAIR.format(errors=errors)},
        ]
        repaired = await self._complete(repair, schema, schema_name)
        try:
            return schema.model_validate_json(repaired)
        except ValidationError as exc:
            errors = _short_errors(exc)
            self.metrics.openai_errors.labels("invalid_output").inc()
            log.warning("openai.reply.invalid", attempt="repair", errors=errors)
            raise OpenAIFailure(
                "invalid_output",
                "OpenAI's reply did not match the analysis schema, even after one "
                f"repair request ({errors}).",
            ) from exc

    async def _complete(
        self, messages: list[dict], schema: type[BaseModel], schema_name: str
    ) -> str:
        settings = self.settings
        deadline = time.monotonic() + settings.openai_max_total_seconds
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.openai_max_attempts)
            | stop_before_delay(settings.openai_max_total_seconds),
            wait=lambda state: self._wait(state, deadline),
            retry=retry_if_exception(_retryable),
            reraise=True,
            before_sleep=self._before_sleep,
        )
        response_format = {
            "type": "json_schema",
            "json_schema": {
                "name": schema_name,
                "schema": schema.model_json_schema(),
                "strict": True,
            },
        }
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(messages, response_format, deadline)
        except CircuitOpenError as exc:
            self.metrics.openai_errors.labels("circuit_open").inc()
            raise OpenAIFailure(
                "circuit_open", f"OpenAI is not called: {exc}."
            ) from exc
        except OpenAIFailure:
            raise
        except Exception as exc:
            outcome = _outcome(exc)
            log.error("openai.request.failed", error_type=outcome, error=str(exc)[:300])
            raise OpenAIFailure(outcome, _failure_message(outcome, exc)) from exc
        raise AssertionError("tenacity ended without a result or an exception")

    async def _attempt(self, messages, response_format, deadline: float) -> str:
        self.breaker.before_call()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.breaker.abandon_call()
            raise _BudgetExhausted("the total time budget for OpenAI ran out")
        timeout = min(self.settings.openai_timeout_seconds, remaining)
        start = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(
                model=self.settings.openai_model,
                messages=messages,
                response_format=response_format,
                max_completion_tokens=self.settings.openai_max_output_tokens,
                timeout=timeout,
            )
        except asyncio.CancelledError:
            self.breaker.abandon_call()
            raise
        except Exception as exc:
            outcome = _outcome(exc)
            self.metrics.openai_duration.labels(outcome).observe(
                time.perf_counter() - start
            )
            self.metrics.openai_errors.labels(outcome).inc()
            if _retryable(exc):
                self.breaker.record_failure()
            else:
                self.breaker.abandon_call()
            raise
        self.metrics.openai_duration.labels("success").observe(
            time.perf_counter() - start
        )
        self.breaker.record_success()
        if response.usage is not None:
            self.metrics.openai_tokens.labels("prompt").inc(
                response.usage.prompt_tokens
            )
            self.metrics.openai_tokens.labels("completion").inc(
                response.usage.completion_tokens
            )
        message = response.choices[0].message if response.choices else None
        if message is None or not message.content:
            refusal = getattr(message, "refusal", None) if message else None
            return json.dumps({"refusal": refusal or "empty reply"})
        return message.content

    def _wait(self, state: RetryCallState, deadline: float) -> float:
        exc = state.outcome.exception() if state.outcome else None
        seconds = self._backoff(state)
        retry_after = retry_after_seconds(exc) if exc else None
        if retry_after is not None:
            seconds = min(retry_after, self.settings.openai_retry_after_max_seconds)
        remaining = deadline - time.monotonic()
        # A wait that would end past the deadline makes stop_before_delay stop.
        return seconds if seconds < remaining else remaining + 1.0

    def _before_sleep(self, state: RetryCallState) -> None:
        self.metrics.openai_retries.inc()
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "openai.request.retry",
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error_type=_outcome(exc) if exc else None,
        )


def _short_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error["loc"]) or "reply"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def _failure_message(outcome: str, exc: Exception) -> str:
    if outcome == "timeout":
        return "OpenAI did not answer within the time limit."
    if outcome == "rate_limited":
        return "OpenAI kept answering 429 (rate limited) until the retries ran out."
    if outcome == "server_error":
        return f"OpenAI kept failing with a server error ({_status(exc)})."
    if outcome == "connection_error":
        return "OpenAI could not be reached (connection failed)."
    return f"OpenAI rejected the request ({_status(exc)}): {str(exc)[:200]}"


def _status(exc: Exception) -> str:
    code = getattr(exc, "status_code", None)
    return f"HTTP {code}" if code is not None else type(exc).__name__
