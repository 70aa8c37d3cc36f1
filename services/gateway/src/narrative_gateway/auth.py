"""ForwardAuth endpoint that Traefik calls for every request that needs a key."""

import structlog
from cachetools import TTLCache
from fastapi import APIRouter, Request, Response

from narrative_common.errors import DependencyUnavailableError, UnauthorizedError
from narrative_gateway.activity import ActivityTracker
from narrative_gateway.keys import KeyStore, hash_key
from narrative_gateway.metrics import AUTH_REQUESTS

log = structlog.stdlib.get_logger(__name__)

HOW_TO_GET_A_KEY = (
    "Send your API key in the X-API-Key header (or Authorization: Bearer <key>). "
    "An operator creates one with `make api-key USER=<name>`."
)


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
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


def auth_router() -> APIRouter:
    router = APIRouter(tags=["auth"], include_in_schema=False)

    @router.get("/auth/verify")
    async def verify(request: Request) -> Response:
        """Verify the API key for Traefik and return the caller's identity headers."""
        authenticator: Authenticator = request.app.state.authenticator
        key = presented_key(request)
        if key is None:
            AUTH_REQUESTS.labels("missing").inc()
            raise UnauthorizedError(
                f"Missing API key. {HOW_TO_GET_A_KEY}",
                code="missing_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="narrative"'},
            )
        identity = await authenticator.identify(key)
        if identity is None:
            AUTH_REQUESTS.labels("invalid").inc()
            log.info(
                "gateway.auth.rejected", uri=request.headers.get("x-forwarded-uri")
            )
            raise UnauthorizedError(
                f"Invalid API key. {HOW_TO_GET_A_KEY}",
                code="invalid_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="narrative"'},
            )
        user_id, role = identity
        AUTH_REQUESTS.labels("ok").inc()
        authenticator.activity.record(user_id)
        return Response(
            status_code=200,
            headers={
                "X-User-Id": user_id,
                "X-User-Role": role,
                "X-Internal-Token": authenticator.internal_token,
            },
        )

    return router
