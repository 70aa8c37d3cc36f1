"""Identity of the caller, as vouched for by the gateway.

The gateway app verifies the API key and adds `X-User-Id`, `X-User-Role`
and `X-Internal-Token` to the request. A service trusts `X-User-Id` only
when the internal token matches, so a client that reaches a service
directly cannot claim to be someone else.
"""

import hmac
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request

from narrative_common.errors import ForbiddenError, UnauthorizedError

USER_HEADER = "x-user-id"
ROLE_HEADER = "x-user-role"
TOKEN_HEADER = "x-internal-token"
ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class User:
    id: str
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


def internal_headers(internal_token: str, user: User | None = None) -> dict[str, str]:
    """Build the headers a service sends when it calls a sibling on a user's behalf."""
    headers = {"X-Internal-Token": internal_token}
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        headers["X-Request-Id"] = request_id
    if user is not None:
        headers["X-User-Id"] = user.id
        headers["X-User-Role"] = user.role
    return headers


def verify_internal_token(request: Request) -> None:
    expected = request.app.state.internal_token
    presented = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise UnauthorizedError(
            "Requests must come through the gateway with an API key. Send the key "
            "in the X-API-Key header; create one with `make api-key USER=<name>`.",
            code="not_authenticated",
        )


async def current_user(request: Request) -> User:
    """Return the gateway-verified user of this request, or raise 401."""
    verify_internal_token(request)
    user_id = request.headers.get(USER_HEADER, "").strip()
    if not user_id:
        raise UnauthorizedError(
            "Missing X-User-Id: this request carries no authenticated user. Send "
            "an API key in the X-API-Key header through the gateway.",
            code="not_authenticated",
        )
    user = User(id=user_id, role=request.headers.get(ROLE_HEADER, "user"))
    structlog.contextvars.bind_contextvars(user_id=user.id)
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise ForbiddenError(
            "This endpoint is for administrators. Ask an operator for an admin "
            "key (`make api-key USER=<name> ROLE=admin`).",
            code="admin_required",
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
