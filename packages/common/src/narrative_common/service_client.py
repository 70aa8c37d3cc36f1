"""HTTP calls from one service to another, with timeouts and safe retries."""

from typing import Any

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from narrative_common.auth import User, internal_headers
from narrative_common.errors import AppError, DependencyUnavailableError, NotFoundError
from narrative_common.metrics import DEPENDENCY_METRICS

log = structlog.stdlib.get_logger(__name__)

_RETRYABLE_STATUS = frozenset({502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | _RetryableStatus)


class ServiceClient:
    """Call a sibling service as the gateway would, passing the user and request id.

    Idempotent methods are retried on connection errors, timeouts and 502,
    503 or 504; other methods are sent once.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        internal_token: str,
        timeout_seconds: float,
        attempts: int = 3,
    ) -> None:
        self.name = name
        self.attempts = attempts
        self._token = internal_token
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 3.0)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self, method: str, path: str, user: User | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = internal_headers(self._token, user) | kwargs.pop("headers", {})
        attempts = self.attempts if method.upper() in _IDEMPOTENT else 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=0.1, max=2.0),
            retry=retry_if_exception(_is_retryable),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "service_call.retry",
                dependency=self.name,
                path=path,
                attempt=state.attempt_number,
                error=str(state.outcome.exception()),
            ),
        )
        try:
            async for attempt in retrying:
                with attempt, DEPENDENCY_METRICS.track(self.name, method.upper()):
                    response = await self._client.request(
                        method, path, headers=headers, **kwargs
                    )
                    if response.status_code in _RETRYABLE_STATUS:
                        raise _RetryableStatus(response)
        except _RetryableStatus as exc:
            return exc.response
        except httpx.TransportError as exc:
            log.error(
                "service_call.failed", dependency=self.name, path=path, error=str(exc)
            )
            raise DependencyUnavailableError(
                f"The {self.name} service did not respond ({type(exc).__name__}). "
                "Try again shortly; /health/detailed shows its state."
            ) from exc
        return response

    async def get_json(self, path: str, user: User | None = None, **kwargs: Any) -> Any:
        """GET a JSON document; 404 raises NotFoundError, other errors AppError."""
        response = await self.request("GET", path, user, **kwargs)
        return _json_or_raise(self.name, response)

    async def ping(self) -> dict:
        response = await self.request("GET", "/health")
        response.raise_for_status()
        return {}


def _json_or_raise(name: str, response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        body = response.json()
        message = body.get("message") or response.text
        code = body.get("error")
    except ValueError:
        message, code = response.text[:300], None
    if response.status_code == 404:
        raise NotFoundError(message, code=code or "not_found")
    if response.status_code >= 500:
        raise DependencyUnavailableError(
            f"The {name} service failed ({response.status_code}): {message}"
        )
    raise AppError(
        message, code=code or "upstream_error", status_code=response.status_code
    )
