"""The arq task that runs one training job, and the reaper of lost jobs."""

import asyncio
import time
from datetime import timedelta

import httpx
from arq import Retry
from bson import ObjectId

from narrative_common.auth import User
from narrative_common.errors import AppError, NotFoundError
from narrative_common.logging import get_logger
from narrative_training.events import publish_model_event
from narrative_training.jobs import repository as repo
from narrative_training.jobs.runner import ProgressTracker, read_parquet, run_training
from narrative_training.jobs.service import TASK_NAME
from narrative_training.metrics import get_metrics
from narrative_training.models.document import model_document
from narrative_training.pipeline.errors import (
    ParityError,
    TrainingCancelled,
    TrainingInputError,
)
from narrative_training.pipeline.train import TrainingRequest

log = get_logger(__name__)


async def train_model(ctx: dict, job_id: str, attempt: int) -> str:
    """Run one attempt of a training job; the job record says what happened."""
    jobs: repo.JobRepository = ctx["jobs"]
    record = await jobs.claim(job_id, attempt)
    if record is None:
        log.info("training.job.skipped", job_id=job_id, attempt=attempt)
        return "skipped"
    metrics = get_metrics()
    metrics.running.inc()
    tracker = ProgressTracker()
    heartbeat = asyncio.create_task(_heartbeat(ctx, job_id, attempt, tracker))
    started = time.perf_counter()
    log.info("training.job.started", job_id=job_id, attempt=attempt)
    try:
        outcome = await _run(ctx, record, tracker)
    except Retry:
        await jobs.release(job_id, attempt)
        metrics.jobs.labels("retried").inc()
        raise
    except asyncio.CancelledError:
        # arq cancels a job when the worker stops on a signal (it then runs
        # the same arq job again on the next worker) or when the job times out.
        tracker.cancelled.set()
        await _record_interruption(ctx, job_id, attempt)
        raise
    finally:
        heartbeat.cancel()
        metrics.running.dec()
    metrics.jobs.labels(outcome).inc()
    log.info(
        "training.job.finished",
        job_id=job_id,
        outcome=outcome,
        seconds=round(time.perf_counter() - started, 3),
    )
    return outcome


async def _record_interruption(ctx: dict, job_id: str, attempt: int) -> None:
    """Record why a running job stopped: a worker shutdown or the job timeout."""
    jobs: repo.JobRepository = ctx["jobs"]
    signal_name = ctx.get("shutdown", {}).get("signal")
    try:
        if signal_name:
            reason = (
                f"The worker stopped normally ({signal_name}) while running attempt "
                f"{attempt}; the job was queued again and starts over."
            )
            await jobs.release(job_id, attempt, reason)
            log.info("training.job.released", job_id=job_id, signal=signal_name)
            return
        timeout = ctx["settings"].job_timeout_seconds
        message = (
            f"The job ran longer than the {timeout} s limit "
            "(TRAINING_JOB_TIMEOUT_SECONDS) and was stopped. Try a simpler model "
            "type or a sample of the dataset."
        )
        await jobs.finish(job_id, attempt, repo.FAILED, {"message": message})
        log.warning("training.job.timed_out", job_id=job_id, seconds=timeout)
    except Exception as exc:  # noqa: BLE001 - the reaper requeues the job later
        log.error(
            "training.job.interruption_not_recorded", job_id=job_id, error=str(exc)
        )


async def _run(ctx: dict, record: dict, tracker: ProgressTracker) -> str:
    jobs: repo.JobRepository = ctx["jobs"]
    job_id, attempt = record["_id"], record["attempt"]
    try:
        frame = await _load(ctx, record)
        request = TrainingRequest(
            target=record["target"],
            column_types={c["name"]: c["type"] for c in record["dataset"]["columns"]},
            model_type=record["model_type"],
            problem_type=record["problem_type"],
            include_columns=record.get("include_columns", []),
        )
        settings = ctx["settings"]
        result = await asyncio.to_thread(
            run_training, frame, request, tracker, record["name"], settings.n_jobs
        )
    except TrainingCancelled:
        log.info("training.job.cancelled", job_id=job_id)
        return repo.CANCELLED
    except (TrainingInputError, ParityError) as exc:
        log.info("training.job.rejected", job_id=job_id, reason=str(exc))
        await _fail(jobs, record, tracker, str(exc))
        return repo.FAILED
    except Retry:
        raise
    except Exception as exc:
        log.exception("training.job.crashed", job_id=job_id)
        await _fail(
            jobs,
            record,
            tracker,
            f"Training failed unexpectedly ({type(exc).__name__}: {str(exc)[:200]}). "
            f"Try another model type, or report job {job_id}.",
        )
        return repo.FAILED
    return await _store(ctx, record, tracker, result, attempt)


async def _load(ctx: dict, record: dict):
    settings = ctx["settings"]
    curated = record["dataset"]["curated_object"]
    try:
        data = await ctx["store"].get_bytes(curated["bucket"], curated["key"])
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            raise TrainingInputError(
                f"The data of dataset {record['dataset_id']} is no longer "
                "stored; it was probably deleted. Upload it again."
            ) from exc
        if ctx.get("job_try", 1) < settings.max_tries:
            log.warning("training.job.load_retry", job_id=record["_id"], error=str(exc))
            raise Retry(defer=5 * ctx.get("job_try", 1)) from exc
        raise
    return await asyncio.to_thread(read_parquet, data, settings.max_dataset_rows)


async def _store(ctx, record, tracker, result, attempt) -> str:
    settings, jobs, store = ctx["settings"], ctx["jobs"], ctx["store"]
    job_id = record["_id"]
    # The job may have been cancelled while it trained (by its owner, or
    # because its dataset is being deleted): then nothing is stored.
    if not await jobs.start_storing(job_id, attempt):
        log.info("training.job.cancelled_before_storing", job_id=job_id)
        return repo.CANCELLED
    if not await _dataset_exists(ctx, record):
        await _fail(
            jobs,
            record,
            tracker,
            f"Dataset {record['dataset_id']} was deleted while the job ran, so "
            "no model was stored. Upload the data again to train on it.",
        )
        log.info("training.job.dataset_gone", job_id=job_id)
        return repo.FAILED
    model_id = str(ObjectId())
    document = model_document(
        model_id=model_id, job=record, result=result, bucket=settings.s3_bucket_models
    )
    artifact = document["artifact"]
    await store.put_bytes(artifact["bucket"], artifact["key"], result.onnx_bytes)
    try:
        await ctx["models"].insert(document)
    except Exception:
        await store.delete(artifact["bucket"], artifact["key"])
        raise
    outcome = result.outcome
    finished = await jobs.finish(
        job_id,
        attempt,
        repo.SUCCEEDED,
        {
            "stage": "done",
            "progress": 1.0,
            "model_id": model_id,
            "warnings": outcome.warnings,
            "resolved_model_type": outcome.model_type,
            "resolved_problem_type": outcome.problem_type,
            "stage_timings": tracker.timings(),
            "sklearn_seconds": outcome.sklearn_seconds,
            "message": None,
        },
    )
    if not finished:
        # Cancelled (or taken over) after start_storing: no model without its
        # job. NOTE: the model document exists for the few milliseconds
        # between its insert and this delete, so a listing can see it.
        await ctx["models"].delete(model_id, record["owner"])
        await store.delete(artifact["bucket"], artifact["key"])
        log.info("training.job.cancelled_while_storing", job_id=job_id)
        return repo.CANCELLED
    _record_metrics(record, document)
    await publish_model_event(
        ctx["redis"], "model.trained", model_id, record["owner"], record["dataset_id"]
    )
    log.info("model.trained", job_id=job_id, model_id=model_id)
    return repo.SUCCEEDED


async def _dataset_exists(ctx: dict, record: dict) -> bool:
    """Check with the datasets service; when the request fails, assume it exists.

    A dataset is deleted through the datasets service, which cancels the
    dataset's jobs first, so a datasets service that is down is not deleting.
    """
    user = User(id=record["owner"])
    try:
        await ctx["datasets"].get_json(
            f"/internal/v1/datasets/{record['dataset_id']}", user
        )
    except NotFoundError:
        return False
    except (AppError, httpx.HTTPError) as exc:
        log.warning(
            "training.job.dataset_check_failed",
            job_id=record["_id"],
            dataset_id=record["dataset_id"],
            error=str(exc),
        )
    return True


def _record_metrics(record: dict, document: dict) -> None:
    metrics = get_metrics()
    started = record["started_at"]
    elapsed = (repo.now() - started).total_seconds()
    metrics.duration.labels(document["model_type"], document["problem_type"]).observe(
        elapsed
    )
    scores = {name: v.get("test") for name, v in document["metrics"].items()}
    scores = {k: v for k, v in scores.items() if v is not None}
    metrics.record_model(
        document["_id"], document["model_type"], record["owner"], scores
    )


async def _fail(jobs, record, tracker, message: str) -> None:
    await jobs.finish(
        record["_id"],
        record["attempt"],
        repo.FAILED,
        {"message": message, "stage_timings": tracker.timings()},
    )


async def _heartbeat(ctx, job_id: str, attempt: int, tracker: ProgressTracker) -> None:
    """Write liveness and progress; flag the run as cancelled once it is not ours."""
    jobs: repo.JobRepository = ctx["jobs"]
    interval = ctx["settings"].heartbeat_seconds
    while True:
        await asyncio.sleep(interval)
        stage, fraction = tracker.snapshot()
        try:
            current = await jobs.heartbeat(job_id, attempt, stage, fraction)
        except Exception as exc:  # noqa: BLE001 - MongoDB down: try again next beat
            log.warning("training.job.heartbeat_failed", job_id=job_id, error=str(exc))
            continue
        if current is None:
            log.info("training.job.stop_requested", job_id=job_id)
            tracker.cancelled.set()
            return


async def reap_lost_jobs(ctx: dict) -> int:
    """Requeue or fail running jobs whose heartbeat went stale; return how many."""
    settings, jobs, queue = ctx["settings"], ctx["jobs"], ctx["redis"]
    cutoff = repo.now() - timedelta(seconds=settings.stale_after_seconds)
    reaped = 0
    for stale in await jobs.stale_running(cutoff):
        job_id, attempt = stale["_id"], stale.get("attempt", 1)
        # A worker that stops normally releases its job itself, so one that
        # went silent was killed, ran out of memory or lost its host.
        reason = (
            f"The worker running attempt {attempt} stopped sending heartbeats for "
            f"{settings.stale_after_seconds:g} s without shutting down normally "
            "(killed or out of memory)."
        )
        if attempt < settings.max_attempts:
            if await jobs.requeue(job_id, attempt, reason):
                # NOTE: if Redis fails between these two calls the record stays
                # queued without an arq job; nothing re-enqueues it yet.
                await queue.enqueue_job(
                    TASK_NAME,
                    job_id,
                    attempt + 1,
                    _job_id=repo.arq_job_id(job_id, attempt + 1),
                    _queue_name=settings.queue_name,
                )
                get_metrics().jobs.labels("retried").inc()
                log.warning("training.job.requeued", job_id=job_id, attempt=attempt + 1)
                reaped += 1
            continue
        message = (
            f"{reason} The job was tried {attempt} times and has failed. A very "
            "large dataset can exhaust the worker's memory: try a sample of it "
            "or a simpler model type."
        )
        if await jobs.finish(job_id, attempt, repo.FAILED, {"message": message}):
            get_metrics().jobs.labels(repo.FAILED).inc()
            log.warning("training.job.lost", job_id=job_id, attempt=attempt)
            reaped += 1
    return reaped
