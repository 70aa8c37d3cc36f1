"""A size limit on JSON prediction bodies, checked before they are parsed."""

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PredictBodyTooLarge(HTTPException):
    """Raised from `receive`. FastAPI re-raises an HTTPException there, so the
    app's handler returns the usual error envelope with status 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status_code=413,
            detail=(
                f"The request body is larger than {max_bytes} bytes "
                "(INFERENCE_PREDICT_MAX_BODY_BYTES). Send fewer records per "
                "request, or upload a CSV to /predict/batch."
            ),
        )


class PredictBodyLimit:
    """Reject a POST .../predict body above `max_bytes` with 413.

    The declared Content-Length is checked before any byte is read, and the
    bytes received are counted for a chunked body without one.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith("/predict")
        ):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise PredictBodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PredictBodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
