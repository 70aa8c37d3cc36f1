"""One error base class and the handlers that render every error as one envelope.

Body of every 4xx and 5xx response::

    {"error": "dataset_not_found", "message": "...", "request_id": "...",
     "fields": [{"field": "body.target", "message": "..."}]}
"""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.stdlib.get_logger(__name__)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Envelope of every error response."""

    error: str
    message: str
    request_id: str | None = None
    fields: list[FieldError] | None = None


class AppError(Exception):
    """Expected failure with an HTTP status, a stable code and an actionable message."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.fields = fields
        self.headers = headers


class BadRequestError(AppError):
    status_code = 400
    code = "bad_request"


class UnauthorizedError(AppError):
    status_code = 401
    code = "unauthorized"


class ForbiddenError(AppError):
    status_code = 403
    code = "forbidden"


class NotFoundError(AppError):
    status_code = 404
    code = "not_found"


class ConflictError(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(AppError):
    status_code = 413
    code = "payload_too_large"


class UnprocessableError(AppError):
    status_code = 422
    code = "unprocessable"


class DependencyUnavailableError(AppError):
    status_code = 503
    code = "dependency_unavailable"


def field_error(field: str, message: str, *, status_code: int = 422) -> AppError:
    """Build a validation error that names one field."""
    return AppError(
        f"Invalid {field}: {message}",
        code="validation_error",
        status_code=status_code,
        fields=[FieldError(field=field, message=message)],
    )


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """Describe the errors a route can return, for its OpenAPI document."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        responses[error.status_code] = {"model": ErrorBody, "description": error.code}
    return responses


def _request_id(request: Request) -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def _envelope(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        error=code, message=message, request_id=_request_id(request), fields=fields
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status_code, headers=headers
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _dependency_errors() -> list[tuple[type[Exception], str]]:
    """Return the client errors that mean a dependency is down, not a bug."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    from pymongo.errors import (
        AutoReconnect,
        ConnectionFailure,
        ServerSelectionTimeoutError,
    )
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return [
        (ServerSelectionTimeoutError, "MongoDB"),
        (AutoReconnect, "MongoDB"),
        (ConnectionFailure, "MongoDB"),
        (RedisConnectionError, "Redis"),
        (RedisTimeoutError, "Redis"),
        (EndpointConnectionError, "S3"),
        (ConnectTimeoutError, "S3"),
        (ReadTimeoutError, "S3"),
        (ConnectionClosedError, "S3"),
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Render AppError, validation errors, HTTP errors and crashes as one envelope."""

    @app.exception_handler(AppError)
    async def handle_app_error(request: Request, exc: AppError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("request.failed", error=exc.code, detail=exc.message)
        return _envelope(
            request, exc.status_code, exc.code, exc.message, exc.fields, exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def handle_validation(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        fields = [
            FieldError(field=_location(err["loc"]), message=err["msg"])
            for err in exc.errors()
        ]
        summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
        return _envelope(
            request,
            422,
            "validation_error",
            f"Invalid request. {summary}",
            fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def handle_http(
        request: Request, exc: StarletteHTTPException
    ) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = (
                f"No route matches {request.method} {request.url.path}. "
                "See /docs for the available endpoints."
            )
        return _envelope(request, exc.status_code, code, message, headers=exc.headers)

    for error_type, dependency in _dependency_errors():

        @app.exception_handler(error_type)
        async def handle_dependency_down(
            request: Request, exc: Exception, dependency: str = dependency
        ) -> JSONResponse:
            log.error(
                "request.dependency_unavailable",
                dependency=dependency,
                error_type=type(exc).__name__,
                error=str(exc)[:300],
            )
            return _envelope(
                request,
                503,
                "dependency_unavailable",
                f"{dependency} is unavailable right now, so this request was not "
                "completed. Try again shortly; GET /health/detailed shows which "
                "dependency is down.",
                headers={"Retry-After": "5"},
            )
