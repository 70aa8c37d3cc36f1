"""Dataset use cases: upload, read, preview and delete, each scoped to one user."""

import asyncio
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from bson import ObjectId
from bson.errors import InvalidDocument
from pymongo.errors import PyMongoError
from starlette.requests import Request

from narrative_common.auth import User
from narrative_common.clients import ObjectStore
from narrative_common.errors import AppError, DependencyUnavailableError
from narrative_common.logging import get_logger
from narrative_common.pagination import Page, PageParams
from narrative_datasets.datasets.dependents import Dependents
from narrative_datasets.datasets.documents import (
    build_document,
    to_dataset,
    to_internal_dataset,
    to_profile,
)
from narrative_datasets.datasets.errors import (
    DatasetInUseError,
    DatasetNotFoundError,
    MetadataTooLargeError,
)
from narrative_datasets.datasets.preview import read_window
from narrative_datasets.datasets.repository import DELETING, READY, DatasetRepository
from narrative_datasets.datasets.schemas import (
    Dataset,
    DatasetProfile,
    InternalDataset,
    Preview,
)
from narrative_datasets.ingest.pipeline import IngestLimits, file_format, ingest_file
from narrative_datasets.metrics import DATASET_METRICS, DatasetMetrics
from narrative_datasets.settings import DatasetsSettings
from narrative_datasets.upload.receiver import ReceivedUpload, receive_upload

log = get_logger(__name__)

CSV_CONTENT_TYPE = "text/csv"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# A deletion claim older than this belongs to a request that died, so a
# retry may take it over. It must exceed the longest cascade (model deletes).
DELETE_CLAIM_TIMEOUT = timedelta(minutes=5)


class DatasetService:
    def __init__(
        self,
        settings: DatasetsSettings,
        repository: DatasetRepository,
        store: ObjectStore,
        dependents: Dependents,
        metrics: DatasetMetrics = DATASET_METRICS,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.store = store
        self.dependents = dependents
        self.metrics = metrics
        self.bucket = settings.s3_bucket_uploads
        self.limits = IngestLimits(
            max_columns=settings.max_columns,
            max_correlation_columns=settings.max_correlation_columns,
        )

    @contextmanager
    def _stage(self, stage: str):
        started = time.perf_counter()
        yield
        self.metrics.stage_duration.labels(stage).observe(time.perf_counter() - started)

    async def upload(self, user: User, request: Request) -> Dataset:
        """Receive, parse and profile an upload; store objects, then metadata."""
        work_dir = Path(tempfile.mkdtemp(prefix="dataset-", dir=self.settings.temp_dir))
        try:
            return await self._upload(user, request, work_dir)
        except AppError as exc:
            if exc.status_code < 500:
                self.metrics.rejected.labels(exc.code).inc()
                log.info("dataset.upload.rejected", reason=exc.code, detail=exc.message)
            raise
        finally:
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def _upload(self, user: User, request: Request, work_dir: Path) -> Dataset:
        with self._stage("receive"):
            received = await receive_upload(
                request, work_dir / "upload", self.settings.max_upload_bytes
            )
        fmt = file_format(received.filename)
        dataset_id = str(ObjectId())
        raw = {
            "bucket": self.bucket,
            "key": f"raw/{user.id}/{dataset_id}/{received.filename}",
        }
        curated = {
            "bucket": self.bucket,
            "key": f"curated/{user.id}/{dataset_id}.parquet",
        }
        content_type = CSV_CONTENT_TYPE if fmt == "csv" else XLSX_CONTENT_TYPE

        # The raw object goes to S3 while a worker thread parses and profiles
        # the file, which leaves the event loop free to send it.
        raw_upload = asyncio.create_task(
            self.store.put_file(self.bucket, raw["key"], received.path, content_type)
        )
        try:
            document = await self._ingest(
                user, received, work_dir, dataset_id, raw, curated, raw_upload
            )
        except BaseException:
            await self._finish_raw_upload(dataset_id, raw_upload)
            await self._remove_objects(dataset_id, [raw["key"], curated["key"]])
            raise

        self.metrics.record_created(user.id, dataset_id, document["rows"])
        log.info(
            "dataset.created",
            dataset_id=dataset_id,
            rows=document["rows"],
            columns=document["column_count"],
            size_bytes=received.size_bytes,
        )
        return to_dataset(document)

    async def _ingest(
        self,
        user: User,
        received: ReceivedUpload,
        work_dir: Path,
        dataset_id: str,
        raw: dict,
        curated: dict,
        raw_upload: asyncio.Task,
    ) -> dict:
        """Parse and profile the received file, then store its objects and metadata.

        Raises without removing anything: the caller removes both objects.
        """
        sheet = received.fields.get("sheet") or None
        result = await asyncio.to_thread(
            ingest_file,
            received.path,
            received.filename,
            sheet,
            work_dir,
            self.limits,
        )
        for stage, seconds in result.timings.items():
            self.metrics.stage_duration.labels(stage).observe(seconds)

        name = (received.fields.get("name") or "").strip() or Path(
            received.filename
        ).stem
        document = build_document(
            dataset_id=dataset_id,
            user_id=user.id,
            name=name,
            filename=received.filename,
            size_bytes=received.size_bytes,
            result=result,
            raw_object=raw,
            curated_object=curated,
            created_at=datetime.now(UTC),
        )
        with self._stage("store"):
            await self._store(document, raw_upload, result.parquet_path)
        return document

    async def _store(
        self, document: dict, raw_upload: asyncio.Task, parquet_path: Path
    ) -> None:
        """Finish the raw object, write the curated one, then the metadata."""
        try:
            # asyncio.wait, unlike awaiting the task, does not cancel the
            # upload when this request is cancelled.
            await asyncio.wait({raw_upload})
            raw_upload.result()
            await self.store.put_file(
                self.bucket,
                document["curated_object"]["key"],
                parquet_path,
                PARQUET_CONTENT_TYPE,
            )
            await self.repository.insert(document)
        except (BotoCoreError, ClientError, PyMongoError) as exc:
            log.error(
                "dataset.store.failed", dataset_id=document["_id"], error=str(exc)
            )
            raise DependencyUnavailableError(
                "Storage did not accept the dataset, so nothing was kept. Try again "
                "shortly; /health/detailed shows which dependency is down."
            ) from exc
        except InvalidDocument as exc:
            # pymongo's DocumentTooLarge derives from bson's InvalidDocument,
            # not from PyMongoError.
            log.error(
                "dataset.metadata.rejected", dataset_id=document["_id"], error=str(exc)
            )
            raise MetadataTooLargeError(document["column_count"]) from exc

    async def _finish_raw_upload(self, dataset_id: str, raw_upload: asyncio.Task):
        """Wait for the raw object's upload to end, and log it if it failed.

        `upload` deletes the temp file once `_upload` returns, so the upload
        must be over first. It is awaited, never cancelled, because
        cancelling aioboto3's upload_fileobj (aioboto3 15.5) leaves its part
        uploads running and the multipart upload open.
        """
        await asyncio.wait({raw_upload})
        if raw_upload.cancelled():
            return
        exc = raw_upload.exception()
        if exc is not None:
            log.error(
                "dataset.raw_upload.failed", dataset_id=dataset_id, error=str(exc)
            )

    async def _remove_objects(self, dataset_id: str, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.store.delete(self.bucket, key)
            except Exception as exc:  # noqa: BLE001 - cleanup must try every key
                log.error(
                    "dataset.cleanup.failed",
                    dataset_id=dataset_id,
                    key=key,
                    error=str(exc),
                )

    async def list_page(self, user: User, page: PageParams) -> Page[Dataset]:
        documents, total = await self.repository.list_page(
            user.id, page.limit, page.offset
        )
        return Page[Dataset](
            items=[to_dataset(document) for document in documents],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )

    async def _require(
        self, user: User, dataset_id: str, *, with_profile=False
    ) -> dict:
        document = await self.repository.get(
            user.id, dataset_id, with_profile=with_profile
        )
        if document is None:
            raise DatasetNotFoundError(dataset_id)
        return document

    async def get(self, user: User, dataset_id: str) -> Dataset:
        return to_dataset(await self._require(user, dataset_id))

    async def get_internal(self, user: User, dataset_id: str) -> InternalDataset:
        return to_internal_dataset(await self._require(user, dataset_id))

    async def profile(self, user: User, dataset_id: str) -> DatasetProfile:
        return to_profile(await self._require(user, dataset_id, with_profile=True))

    async def preview(
        self, user: User, dataset_id: str, offset: int, limit: int
    ) -> Preview:
        document = await self._require(user, dataset_id)
        curated = document["curated_object"]
        data = await self.store.get_bytes(curated["bucket"], curated["key"])
        names, rows = await asyncio.to_thread(read_window, data, offset, limit)
        return Preview(
            columns=names, rows=rows, offset=offset, limit=limit, total=document["rows"]
        )

    async def delete(self, user: User, dataset_id: str, cascade: bool) -> None:
        """Delete the dataset's objects and metadata, or nothing.

        Models and analyses derived from the dataset go first. The request
        that moves the document from `ready` to `deleting` (one atomic update)
        is the only one that deletes. Concurrent requests return without
        doing anything, so the route returns 204 to them as well. A failure
        while releasing dependents restores `ready`. A failure after that
        leaves the document hidden as `deleting`, and a retry finishes the
        job without asking the other services again.
        """
        document = await self.repository.get_any_status(user.id, dataset_id)
        if document is None:
            raise DatasetNotFoundError(dataset_id)
        stale_before = datetime.now(UTC) - DELETE_CLAIM_TIMEOUT
        if document["status"] == DELETING:
            if not await self.repository.claim_for_deletion(
                user.id, dataset_id, DELETING, stale_before
            ):
                log.info("dataset.delete.in_progress", dataset_id=dataset_id)
                return
        else:
            await self._check_dependents(user, dataset_id, cascade)
            if not await self.repository.claim_for_deletion(
                user.id, dataset_id, READY, stale_before
            ):
                # NOTE: this request gets 204 even if the winning one then fails
                # to release dependents and puts the dataset back to ready.
                log.info("dataset.delete.in_progress", dataset_id=dataset_id)
                return
            try:
                await self._release_dependents(user, dataset_id, cascade)
            except BaseException:
                await self.repository.release_claim(user.id, dataset_id, READY)
                raise
        try:
            for key in (
                document["raw_object"]["key"],
                document["curated_object"]["key"],
            ):
                await self.store.delete(self.bucket, key)
            deleted = await self.repository.delete(user.id, dataset_id)
        except BaseException:
            await self.repository.release_claim(user.id, dataset_id, DELETING)
            raise
        if deleted:
            log.info("dataset.deleted", dataset_id=dataset_id, cascade=cascade)

    async def _check_dependents(
        self, user: User, dataset_id: str, cascade: bool
    ) -> None:
        """Check, before claiming the dataset, that its dependents can be released.

        Raises 409 when models or active training jobs use it and `cascade`
        is off, and 503 when a sibling service is down.
        """
        usage = await self.dependents.usage(user, dataset_id)
        if usage and not cascade:
            raise DatasetInUseError(dataset_id, usage.models, usage.active_jobs)
        await self.dependents.ensure_analysis_reachable()

    async def _release_dependents(
        self, user: User, dataset_id: str, cascade: bool
    ) -> None:
        """Cancel the dataset's jobs, then delete its models, then its analyses.

        Jobs go first so that none of them can save a new model afterwards.
        """
        # Listed again under the claim: a model or job may have appeared since
        # the check.
        usage = await self.dependents.usage(user, dataset_id)
        if usage and not cascade:
            raise DatasetInUseError(dataset_id, usage.models, usage.active_jobs)
        if usage.active_jobs:
            cancelled = await self.dependents.cancel_jobs(user, dataset_id)
            log.info("dataset.jobs.cancelled", dataset_id=dataset_id, job_ids=cancelled)
            usage = await self.dependents.usage(user, dataset_id)
        for model in usage.models:
            await self.dependents.delete_model(user, model["id"])
            log.info(
                "dataset.model.deleted", dataset_id=dataset_id, model_id=model["id"]
            )
        await self.dependents.delete_analyses(user, dataset_id)
