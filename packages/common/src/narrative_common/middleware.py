"""Request ids and HTTP metrics for every request.

The middleware is written against raw ASGI instead of BaseHTTPMiddleware
because it runs on every prediction and must cost microseconds.
"""

import json
import re
import time
import uuid
from collections.abc import AsyncIterator

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from narrative_common.metrics import HTTP_METRICS, UNMATCHED_ENDPOINT, HTTPMetrics

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
UNTIMED_PATHS = frozenset({"/health", "/health/ready", "/metrics"})

log = structlog.stdlib.get_logger(__name__)


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: HTTPMetrics = HTTP_METRICS,
        untimed_paths: frozenset[str] = UNTIMED_PATHS,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.untimed_paths = untimed_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], header]
            await send(message)

        method = scope["method"]
        status_code = 500
        started = False

        async def send_and_record(message: Message) -> None:
            nonlocal status_code, started
            if message["type"] == "http.response.start":
                status_code = message["status"]
                started = True
            await send_with_request_id(message)

        if scope["path"] in self.untimed_paths:
            await self.app(scope, receive, send_with_request_id)
            return

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_record)
        except Exception:
            # Responding here, instead of letting the exception reach uvicorn,
            # keeps the connection open: uvicorn closes a connection whose
            # app raised, and a proxy that reuses it fails the next request.
            log.exception("request.crashed", method=method, path=scope["path"])
            if started:
                raise
            await _send_crash_response(send_and_record, request_id)
        finally:
            elapsed = time.perf_counter() - start
            endpoint = _route_template(scope)
            status = str(status_code)
            self.metrics.duration.labels(method, endpoint, status).observe(elapsed)
            self.metrics.requests.labels(method, endpoint, status).inc()


_CRASH_MESSAGE = (
    "The server failed to handle this request. Quote the request_id when you report it."
)


async def _send_crash_response(send: Send, request_id: str) -> None:
    body = json.dumps(
        {"error": "internal_error", "message": _CRASH_MESSAGE, "request_id": request_id}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path_format", None) or UNMATCHED_ENDPOINT


async def track_active_request(request: Request) -> AsyncIterator[None]:
    """Count the request in `http_requests_active` while its route runs.

    It is an app-wide dependency rather than part of the middleware because
    the route template is known only once routing has matched the request.
    """
    endpoint = _route_template(request.scope)
    if endpoint in UNTIMED_PATHS:
        yield
        return
    gauge = HTTP_METRICS.active.labels(request.method, endpoint)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex
