"""Prediction and model-cache routes."""

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from narrative_common.auth import CurrentUser
from narrative_common.errors import (
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    error_responses,
    field_error,
)
from narrative_common.ids import ResourceId
from narrative_inference.metrics import METRICS
from narrative_inference.models.batch import predict_csv
from narrative_inference.models.cache import ModelCache
from narrative_inference.models.errors import (
    InputValidationError,
    ModelArtifactError,
)
from narrative_inference.models.schemas import (
    CacheStatus,
    PredictRequest,
    PredictResponse,
)
from narrative_inference.models.service import predict_rows
from narrative_inference.models.validation import locate_record, locate_records
from narrative_inference.settings import InferenceSettings

log = structlog.stdlib.get_logger(__name__)

router = APIRouter(prefix="/api/v1/models", tags=["inference"])


# The dependencies are coroutines because FastAPI runs plain functions in a
# worker thread, and a thread hop costs more than a one-row prediction.
async def get_cache(request: Request) -> ModelCache:
    return request.app.state.cache


async def get_settings(request: Request) -> InferenceSettings:
    return request.app.state.settings


Cache = Annotated[ModelCache, Depends(get_cache)]
Settings = Annotated[InferenceSettings, Depends(get_settings)]

BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV with a header line, UTF-8.",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/{model_id}/predict",
    response_model=PredictResponse,
    responses=error_responses(
        UnauthorizedError, NotFoundError, InputValidationError, ModelArtifactError
    ),
)
async def predict(
    model_id: ResourceId, body: PredictRequest, user: CurrentUser, request: Request
) -> Response:
    """Predict one row (`record`) or a list of rows (`records`) with your model."""
    # Read from app.state here instead of through dependencies: each one
    # costs FastAPI time on the path that must stay fastest.
    settings: InferenceSettings = request.app.state.settings
    cache: ModelCache = request.app.state.cache
    if body.record is not None and body.records is None:
        rows = [body.record]
        locate = locate_record
    elif body.records is not None and body.record is None:
        rows = body.records
        locate = locate_records
        if not rows:
            raise field_error(
                "body.records", "the list is empty; send at least one row."
            )
        if len(rows) > settings.max_records_per_request:
            raise field_error(
                "body.records",
                f"{len(rows)} rows is more than the limit of "
                f"{settings.max_records_per_request} per request; use "
                "/predict/batch for larger inputs.",
                status_code=413,
            )
    else:
        raise field_error(
            "body", "send exactly one of `record` (one row) or `records` (a list)."
        )
    model = await cache.get(model_id, user)
    result = await predict_rows(
        model,
        rows,
        locate,
        inline_max_rows=settings.inline_max_rows,
        metrics=METRICS,
    )
    return Response(json.dumps(result), media_type="application/json")


@router.post(
    "/{model_id}/predict/batch",
    response_class=FileResponse,
    openapi_extra=BATCH_BODY,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the rows with predictions"},
        **error_responses(
            UnauthorizedError,
            NotFoundError,
            PayloadTooLargeError,
            InputValidationError,
            ModelArtifactError,
        ),
    },
)
async def predict_batch(
    model_id: ResourceId,
    request: Request,
    user: CurrentUser,
    cache: Cache,
    settings: Settings,
) -> FileResponse:
    """Predict every row of an uploaded CSV (field `file`); returns the rows as CSV."""
    declared = request.headers.get("content-length")
    if (
        declared
        and declared.isdigit()
        and int(declared) > settings.batch_max_upload_bytes
    ):
        raise _too_large(settings)

    model = await cache.get(model_id, user)
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise field_error(
                "body.file",
                "missing file: upload the CSV in the multipart field `file`.",
            )
        size = upload.size if upload.size is not None else 0
        if size > settings.batch_max_upload_bytes:
            raise _too_large(settings)
        handle, name = tempfile.mkstemp(prefix="predictions-", suffix=".csv")
        os.close(handle)
        output_path = Path(name)
        start = time.perf_counter()
        try:
            upload.file.seek(0)
            result = await asyncio.to_thread(
                predict_csv,
                model,
                upload.file,
                output_path,
                chunk_rows=settings.batch_chunk_rows,
                max_rows=settings.batch_max_rows,
                threads=settings.batch_threads,
            )
        except BaseException:
            await asyncio.to_thread(output_path.unlink, missing_ok=True)
            raise

    elapsed = time.perf_counter() - start
    model_label = METRICS.model_id_label(model.model_id)
    METRICS.prediction_latency.labels(model.metadata.model_type, model_label).observe(
        elapsed
    )
    METRICS.predictions.labels(model_label).inc(result.rows)
    log.info(
        "prediction.batch.finished",
        model_id=model_id,
        rows=result.rows,
        seconds=round(elapsed, 3),
        unseen_categories=dict(result.unseen_categories),
    )

    headers = {
        "X-Rows-Predicted": str(result.rows),
        "X-Latency-Ms": f"{elapsed * 1000:.1f}",
    }
    if result.unseen_categories:
        headers["X-Unseen-Categories"] = ",".join(
            f"{column}={count}" for column, count in result.unseen_categories.items()
        )
    return FileResponse(
        output_path,
        media_type="text/csv",
        filename=f"predictions-{model_id}.csv",
        headers=headers,
        background=BackgroundTask(output_path.unlink, missing_ok=True),
    )


def _too_large(settings: InferenceSettings) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The upload is larger than {settings.batch_max_upload_bytes} bytes "
        "(INFERENCE_BATCH_MAX_UPLOAD_BYTES). Split the CSV into smaller files."
    )


@router.get(
    "/cache/status",
    response_model=CacheStatus,
    responses=error_responses(UnauthorizedError),
)
async def cache_status(
    request: Request, user: CurrentUser, cache: Cache
) -> CacheStatus:
    """List your cached models with their totals; admins get whole-cache totals."""
    return cache.status(user, request.app.state.preload.as_dict())


@router.delete(
    "/cache/{model_id}",
    status_code=204,
    responses=error_responses(UnauthorizedError, NotFoundError),
)
async def evict_model(
    model_id: ResourceId, user: CurrentUser, cache: Cache
) -> Response:
    """Remove one of your models from the cache; the next prediction reloads it."""
    cache.evict_owned(model_id, user)
    return Response(status_code=204)
