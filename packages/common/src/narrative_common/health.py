"""Liveness, readiness and the detailed dependency report of one service."""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from narrative_common.metrics import DEPENDENCY_METRICS, DependencyMetrics

log = structlog.stdlib.get_logger(__name__)

Status = Literal["ok", "degraded", "down"]


def _json_safe(detail: object) -> dict | None:
    """Keep a check's detail only as a JSON-ready dict; driver replies may hold BSON types."""
    if not isinstance(detail, dict):
        return None
    return json.loads(json.dumps(detail, default=str))


class DependencyStatus(BaseModel):
    status: Status
    latency_ms: float | None = None
    required: bool = True
    error: str | None = None
    detail: dict | None = None


class HealthReport(BaseModel):
    """Status of a service and of each dependency it calls."""

    status: Status
    service: str
    version: str
    uptime_seconds: float
    dependencies: dict[str, DependencyStatus]


# A check returns None or a small detail dict when the dependency responds,
# and raises when it does not.
Check = Callable[[], Awaitable[dict | None]]


@dataclass
class HealthChecks:
    service: str
    version: str
    timeout_seconds: float = 2.0
    metrics: DependencyMetrics = DEPENDENCY_METRICS
    checks: dict[str, tuple[Check, bool]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)

    def add(self, name: str, check: Check, *, required: bool = True) -> None:
        """Register a dependency check. A failing optional one only degrades."""
        self.checks[name] = (check, required)

    async def _run_one(
        self, name: str, check: Check, required: bool
    ) -> DependencyStatus:
        start = time.perf_counter()
        try:
            detail = await asyncio.wait_for(check(), self.timeout_seconds)
        except TimeoutError:
            error = f"timed out after {self.timeout_seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        else:
            detail = _json_safe(detail)
            self.metrics.up.labels(name).set(1)
            latency = round((time.perf_counter() - start) * 1000, 2)
            status: Status = "ok"
            if isinstance(detail, dict) and detail.get("status") in (
                "degraded",
                "down",
            ):
                status = detail["status"]
            return DependencyStatus(
                status=status, latency_ms=latency, required=required, detail=detail
            )
        self.metrics.up.labels(name).set(0)
        log.warning("health.dependency.down", dependency=name, error=error)
        return DependencyStatus(
            status="down",
            latency_ms=round((time.perf_counter() - start) * 1000, 2),
            required=required,
            error=error,
        )

    async def report(self) -> HealthReport:
        names = list(self.checks)
        results = await asyncio.gather(
            *(self._run_one(name, *self.checks[name]) for name in names)
        )
        dependencies = dict(zip(names, results, strict=True))
        status: Status = "ok"
        for result in dependencies.values():
            if result.status == "ok":
                continue
            if result.required and result.status == "down":
                status = "down"
                break
            status = "degraded"
        return HealthReport(
            status=status,
            service=self.service,
            version=self.version,
            uptime_seconds=round(time.monotonic() - self.started_at, 1),
            dependencies=dependencies,
        )

    def router(self) -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/health")
        async def health() -> dict:
            """Report that the process is alive, without calling any dependency."""
            return {"status": "ok", "service": self.service}

        @router.get("/health/ready", response_model=HealthReport)
        async def ready() -> JSONResponse:
            """Report readiness: 503 when a required dependency is down."""
            report = await self.report()
            code = 503 if report.status == "down" else 200
            return JSONResponse(report.model_dump(), status_code=code)

        @router.get("/health/detailed", response_model=HealthReport)
        async def detailed() -> JSONResponse:
            """Report each dependency's status and latency."""
            report = await self.report()
            code = 503 if report.status == "down" else 200
            return JSONResponse(report.model_dump(), status_code=code)

        return router
