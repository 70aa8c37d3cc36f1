"""A sampling profiler that an administrator switches on for a while.

POST /debug/profiling/enable starts pyinstrument on the event loop's thread,
GET /debug/profiling/report stops it and returns what it sampled. The
profiler stops by itself after `duration_seconds` so a forgotten session
does not slow the service for good.
"""

import asyncio
import time

import structlog
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from pyinstrument import Profiler

from narrative_common.auth import AdminUser
from narrative_common.errors import ConflictError

log = structlog.stdlib.get_logger(__name__)

MAX_DURATION_SECONDS = 3600


class ProfilingSession:
    def __init__(self) -> None:
        self.profiler: Profiler | None = None
        self.last: Profiler | None = None
        self.started_at: float | None = None
        self._stop_task: asyncio.Task | None = None

    def start(self, duration_seconds: float, interval_seconds: float) -> None:
        if self.profiler is not None:
            raise ConflictError(
                "Profiling is already running. Fetch GET /debug/profiling/report "
                "to stop it and read the report.",
                code="profiling_running",
            )
        self.profiler = Profiler(interval=interval_seconds, async_mode="disabled")
        self.profiler.start()
        self.started_at = time.monotonic()
        self._stop_task = asyncio.get_running_loop().create_task(
            self._stop_later(duration_seconds)
        )

    async def _stop_later(self, duration_seconds: float) -> None:
        await asyncio.sleep(duration_seconds)
        log.info("profiling.stopped", reason="duration_elapsed")
        self.stop()

    def stop(self) -> Profiler | None:
        if self.profiler is not None:
            self.profiler.stop()
            self.last, self.profiler = self.profiler, None
        if (
            self._stop_task is not None
            and self._stop_task is not asyncio.current_task()
        ):
            self._stop_task.cancel()
        self._stop_task = None
        return self.last


def profiling_router(session: ProfilingSession | None = None) -> APIRouter:
    session = session or ProfilingSession()
    router = APIRouter(prefix="/debug/profiling", tags=["debug"])

    @router.post("/enable", status_code=202)
    async def enable(
        _admin: AdminUser,
        duration_seconds: float = Query(300, gt=0, le=MAX_DURATION_SECONDS),
        interval_ms: float = Query(1.0, ge=0.1, le=100),
    ) -> dict:
        """Start the sampling profiler (admin only)."""
        session.start(duration_seconds, interval_ms / 1000)
        log.info("profiling.started", duration_seconds=duration_seconds)
        return {"status": "profiling", "duration_seconds": duration_seconds}

    @router.get("/report", response_class=PlainTextResponse)
    async def report(
        _admin: AdminUser,
        format: str = Query("text", pattern="^(text|html)$"),
    ):
        """Stop the profiler and return its report (admin only)."""
        profiler = session.stop()
        if profiler is None:
            raise ConflictError(
                "No profile was recorded. Start one with POST "
                "/debug/profiling/enable, send traffic, then fetch this report.",
                code="profiling_not_started",
            )
        if format == "html":
            return HTMLResponse(profiler.output_html())
        return PlainTextResponse(profiler.output_text(unicode=True, color=False))

    return router
