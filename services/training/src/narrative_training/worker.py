"""The training worker: `python -m narrative_training.worker`.

It runs arq jobs from the training queue, reaps lost jobs, and serves
/health and /metrics on TRAINING_WORKER_PORT (8021) from a thread, so a
scrape never waits for the event loop; /health reports 503 when the event
loop has not ticked for LOOP_STALL_SECONDS.
"""

import asyncio
import signal
import threading
import time

import uvicorn
from arq.worker import Worker, func
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from narrative_common.clients import create_mongo_client, open_object_store
from narrative_common.logging import configure_logging, get_logger
from narrative_common.service_client import ServiceClient
from narrative_training.jobs.repository import JobRepository
from narrative_training.jobs.service import TASK_NAME
from narrative_training.jobs.tasks import reap_lost_jobs, train_model
from narrative_training.metrics import get_metrics
from narrative_training.models.repository import ModelRepository
from narrative_training.queue import create_queue, queue_depth
from narrative_training.settings import TrainingSettings

log = get_logger(__name__)
LOOP_STALL_SECONDS = 30.0
TICK_SECONDS = 1.0


class LoopMonitor:
    """Time of the event loop's last tick, read by the health thread."""

    def __init__(self) -> None:
        self.last_tick = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last_tick


def health_app(monitor: LoopMonitor) -> Starlette:
    async def health(_request: Request) -> JSONResponse:
        age = monitor.age()
        status = "ok" if age < LOOP_STALL_SECONDS else "down"
        body = {
            "status": status,
            "service": "training-worker",
            "event_loop_lag_seconds": round(age, 3),
            "jobs_running": get_metrics().running._value.get(),
        }
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/health", health), Route("/metrics", metrics)])


def serve_health(settings: TrainingSettings, monitor: LoopMonitor) -> None:
    config = uvicorn.Config(
        health_app(monitor),
        host=settings.worker_host,
        port=settings.worker_port,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="worker-health", daemon=True)
    thread.start()


async def _housekeeping(ctx: dict) -> None:
    """Tick the loop monitor, refresh queue depth and reap lost jobs."""
    settings = ctx["settings"]
    monitor: LoopMonitor = ctx["monitor"]
    next_reap = 0.0
    next_depth = 0.0
    while True:
        monitor.last_tick = time.monotonic()
        now = time.monotonic()
        try:
            if now >= next_depth:
                next_depth = now + 5.0
                depth = await queue_depth(ctx["redis"], settings.queue_name)
                get_metrics().queue_depth.set(depth)
            if now >= next_reap:
                next_reap = now + settings.reaper_interval_seconds
                await reap_lost_jobs(ctx)
        except Exception as exc:  # noqa: BLE001 - a dependency is down: retry later
            log.warning("worker.housekeeping_failed", error=str(exc))
        await asyncio.sleep(TICK_SECONDS)


class ResilientWorker(Worker):
    """An arq worker that outlives a Redis outage.

    arq 0.28 lets a connection error in its polling loop end the worker, so a
    Redis restart stopped every later job. This worker logs the error, waits
    with a growing delay up to 5 s, and polls again once Redis is back.
    """

    _outage_started: float | None = None

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            now = time.monotonic()
            if self._outage_started is None:
                self._outage_started = now
                log.warning("worker.redis_unavailable", error=str(exc))
            outage = now - self._outage_started
            await asyncio.sleep(min(5.0, 0.2 + outage / 4))
            return
        if self._outage_started is not None:
            log.info(
                "worker.redis_recovered",
                outage_seconds=round(time.monotonic() - self._outage_started, 1),
            )
            self._outage_started = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            # arq took a job slot for the job it was starting, and no task
            # will give it back, so the worker would stop taking jobs.
            self._release_sem_dec_counter_on_complete()
            raise


def build_worker(settings: TrainingSettings) -> Worker:
    monitor = LoopMonitor()

    async def startup(ctx: dict) -> None:
        ctx["settings"] = settings
        ctx["monitor"] = monitor
        mongo = create_mongo_client(settings, "narrative-training-worker")
        database = mongo[settings.mongodb_database]
        ctx["mongo"] = mongo
        ctx["jobs"] = JobRepository(database)
        ctx["models"] = ModelRepository(database)
        ctx["store_context"] = open_object_store(settings)
        ctx["store"] = await ctx["store_context"].__aenter__()
        ctx["datasets"] = ServiceClient(
            "datasets",
            settings.datasets_url,
            settings.internal_token.get_secret_value(),
            settings.service_call_timeout_seconds,
        )
        ctx["housekeeping"] = asyncio.create_task(_housekeeping(ctx))
        log.info("worker.started", queue=settings.queue_name)

    async def shutdown(ctx: dict) -> None:
        ctx["housekeeping"].cancel()
        await asyncio.gather(ctx["housekeeping"], return_exceptions=True)
        await ctx["store_context"].__aexit__(None, None, None)
        await ctx["datasets"].aclose()
        await ctx["mongo"].close()
        log.info("worker.stopped")

    get_metrics(settings.metrics_max_tracked_ids)
    serve_health(settings, monitor)
    worker = ResilientWorker(
        functions=[
            func(
                train_model,
                name=TASK_NAME,
                max_tries=settings.max_tries,
                timeout=settings.job_timeout_seconds,
            )
        ],
        queue_name=settings.queue_name,
        redis_pool=create_queue(settings),
        max_jobs=settings.worker_max_jobs,
        poll_delay=settings.poll_delay_seconds,
        job_timeout=settings.job_timeout_seconds,
        keep_result=settings.keep_result_seconds,
        max_tries=settings.max_tries,
        health_check_interval=30,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=True,
    )

    # arq gives each job a shallow copy of worker.ctx, so the jobs see this
    # dict change after they started.
    shutdown_state: dict = {"signal": None}
    worker.ctx["shutdown"] = shutdown_state

    def remember_signal(signal_number: signal.Signals) -> None:
        # arq calls this right after cancelling the running jobs and before
        # their CancelledError handlers run, so train_model can tell a
        # shutdown from a job timeout.
        shutdown_state["signal"] = signal_number.name

    worker.on_stop = remember_signal
    return worker


def main() -> None:
    settings = TrainingSettings()
    configure_logging("training-worker", settings.log_level, settings.log_format)
    build_worker(settings).run()


if __name__ == "__main__":
    main()
