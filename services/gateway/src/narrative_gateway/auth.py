"""ForwardAuth endpoint that Traefik calls for every request that needs a key."""

import json
import uuid

import structlog
from cachetools import TTLCache
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from narrative_common.errors import DependencyUnavailableError
from narrative_common.middleware import VALID_REQUEST_ID
from narrative_gateway.activity import ActivityTracker
from narrative_gateway.keys import KeyStore, hash_key
from narrative_gateway.metrics import AUTH_REQUESTS

log = structlog.stdlib.get_logger(__name__)

HOW_TO_GET_A_KEY = (
    "Send your API key in the X-API-Key header (or Authorization: Bearer <key>). "
    "An operator creates one with `make api-key USER=<name>`."
)


def presented_key(headers: Headers) -> str | None:
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


class Authenticator:
    def __init__(
        self,
        store: KeyStore,
        internal_token: str,
        activity: ActivityTracker,
        cache_seconds: float,
        cache_entries: int,
    ) -> None:
        self.store = store
        self.internal_token = internal_token
        self.activity = activity
        self.cache: TTLCache | None = (
            TTLCache(maxsize=cache_entries, ttl=cache_seconds)
            if cache_seconds
            else None
        )

    async def identify(self, key: str) -> tuple[str, str] | None:
        digest = hash_key(key)
        if self.cache is not None and digest in self.cache:
            return self.cache[digest]
        try:
            document = await self.store.lookup(key)
        except Exception as exc:
            AUTH_REQUESTS.labels("error").inc()
            log.error("gateway.auth.store_failed", error=str(exc))
            raise DependencyUnavailableError(
                "API keys cannot be checked right now because MongoDB is unavailable. "
                "Try again shortly."
            ) from exc
        if document is None:
            return None
        identity = (document["user_id"], document.get("role", "user"))
        if self.cache is not None:
            self.cache[digest] = identity
        return identity


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"error": code, "message": message, "request_id": request_id}
    ).encode()


class ForwardAuthApp:
    """Answer Traefik's ForwardAuth calls at /auth/verify ahead of FastAPI.

    Every keyed request through the gateway makes one of these calls, so it
    skips routing, dependency injection and the metrics middleware: a cached
    key costs a dict lookup. Outcomes are counted in
    gateway_auth_requests_total instead of the HTTP metrics.
    """

    path = "/auth/verify"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id", "")
        if not VALID_REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        status, extra, body = await self._verify(scope, headers, request_id)
        response_headers = [
            (b"x-request-id", request_id.encode()),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        if body:
            response_headers.append((b"content-type", b"application/json"))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": response_headers,
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _verify(
        self, scope: Scope, headers: Headers, request_id: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        authenticator: Authenticator = scope["app"].state.authenticator
        challenge = [(b"www-authenticate", b'Bearer realm="narrative"')]
        key = presented_key(headers)
        if key is None:
            AUTH_REQUESTS.labels("missing").inc()
            message = f"Missing API key. {HOW_TO_GET_A_KEY}"
            return 401, challenge, _error_body("missing_api_key", message, request_id)
        try:
            identity = await authenticator.identify(key)
        except DependencyUnavailableError as exc:
            body = _error_body("dependency_unavailable", exc.message, request_id)
            return 503, [(b"retry-after", b"5")], body
        if identity is None:
            AUTH_REQUESTS.labels("invalid").inc()
            log.info(
                "gateway.auth.rejected",
                uri=headers.get("x-forwarded-uri"),
                request_id=request_id,
            )
            message = f"Invalid API key. {HOW_TO_GET_A_KEY}"
            return 401, challenge, _error_body("invalid_api_key", message, request_id)
        user_id, role = identity
        AUTH_REQUESTS.labels("ok").inc()
        authenticator.activity.record(user_id)
        return (
            200,
            [
                (b"x-user-id", user_id.encode()),
                (b"x-user-role", role.encode()),
                (b"x-internal-token", authenticator.internal_token.encode()),
            ],
            b"",
        )
