"""Write an analysis: fetch the inputs, pick the analyzer, check facts, store."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from narrative_analysis.analysis.cache import ResultCache, cache_key
from narrative_analysis.analysis.errors import AnalysisNotFoundError
from narrative_analysis.analysis.facts import Facts
from narrative_analysis.analysis.markdown import render_markdown
from narrative_analysis.analysis.model_info import normalize_model
from narrative_analysis.analysis.profile import normalize_profile
from narrative_analysis.analysis.repository import AnalysisRepository, new_document
from narrative_analysis.analysis.schemas import (
    Analysis,
    AnalysisSummary,
    DatasetInsights,
    DroppedFinding,
    ModelInsights,
)
from narrative_analysis.analysis.verify import summary_is_sourced, verify
from narrative_analysis.llm.breaker import CircuitState
from narrative_analysis.llm.client import OpenAIClient, OpenAIFailure
from narrative_analysis.llm.prompts import (
    DATASET_SYSTEM,
    MODEL_SYSTEM,
    PROMPT_VERSION,
    user_message,
)
from narrative_analysis.local.dataset import analyze_dataset
from narrative_analysis.local.model import analyze_model
from narrative_analysis.metrics import AnalysisMetrics
from narrative_analysis.settings import AnalysisSettings
from narrative_common.auth import User
from narrative_common.errors import AppError
from narrative_common.service_client import ServiceClient

log = structlog.stdlib.get_logger(__name__)

# Part of the local analyzer's cache keys: raise it when its rules change.
LOCAL_ANALYZER_VERSION = "local-2025-06-v1"

Insights = DatasetInsights | ModelInsights


@dataclass
class _Subject:
    """The subject of one analysis, with everything an analyzer needs for it."""

    type: str
    id: str
    title: str
    prompt_payload: dict[str, Any]
    facts: Facts
    local: Callable[[], Insights]
    schema: type[Insights]
    system_prompt: str


class AnalysisService:
    def __init__(
        self,
        settings: AnalysisSettings,
        repository: AnalysisRepository,
        cache: ResultCache,
        datasets: ServiceClient,
        training: ServiceClient,
        openai: OpenAIClient | None,
        metrics: AnalysisMetrics,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.cache = cache
        self.datasets = datasets
        self.training = training
        self.openai = openai
        self.metrics = metrics

    async def analyze_dataset(self, user: User, dataset_id: str) -> Analysis:
        dataset, profile = await asyncio.gather(
            self.datasets.get_json(f"/internal/v1/datasets/{dataset_id}", user),
            self.datasets.get_json(f"/internal/v1/datasets/{dataset_id}/profile", user),
        )
        view = normalize_profile(profile, dataset)
        subject = _Subject(
            type="dataset",
            id=dataset_id,
            title=f"Dataset analysis: {view.name}",
            prompt_payload=view.to_prompt(),
            facts=view.facts(),
            local=lambda: analyze_dataset(view),
            schema=DatasetInsights,
            system_prompt=DATASET_SYSTEM,
        )
        return await self._analyze(user, subject)

    async def analyze_model(self, user: User, model_id: str) -> Analysis:
        metadata = await self.training.get_json(f"/internal/v1/models/{model_id}", user)
        pii = await self._pii_columns(user, metadata.get("dataset_id"))
        view = normalize_model(metadata, pii)
        subject = _Subject(
            type="model",
            id=model_id,
            title=f"Model analysis: {view.name}",
            prompt_payload=view.to_prompt(),
            facts=view.facts(),
            local=lambda: analyze_model(view),
            schema=ModelInsights,
            system_prompt=MODEL_SYSTEM,
        )
        return await self._analyze(user, subject)

    async def get(self, user: User, analysis_id: str) -> Analysis:
        document = await self.repository.get(user.id, analysis_id)
        if document is None:
            raise AnalysisNotFoundError(analysis_id)
        return to_analysis(document, cached=False)

    async def page(
        self, user: User, limit: int, offset: int
    ) -> tuple[list[AnalysisSummary], int]:
        documents, total = await self.repository.page(user.id, limit, offset)
        return [to_summary(document) for document in documents], total

    async def delete_subject(self, user: User, subject_type: str, subject_id: str):
        await self.cache.forget_subject(user.id, subject_type, subject_id)
        deleted = await self.repository.delete_subject(
            user.id, subject_type, subject_id
        )
        log.info(
            "analysis.deleted",
            subject_type=subject_type,
            subject_id=subject_id,
            deleted=deleted,
        )
        return deleted

    async def _pii_columns(self, user: User, dataset_id: Any) -> set[str]:
        """Read the PII columns of the model's dataset, to keep their values out."""
        if not dataset_id:
            return set()
        try:
            profile = await self.datasets.get_json(
                f"/internal/v1/datasets/{dataset_id}/profile", user
            )
        except AppError as exc:
            # NOTE: without the profile, a one-hot feature named after a value
            # of a PII column would reach the prompt. Training leaves
            # identifier and text columns out of the features by default.
            log.warning(
                "analysis.model.pii_lookup_failed",
                dataset_id=str(dataset_id),
                error=exc.code,
            )
            return set()
        return set(normalize_profile(profile).pii_columns)

    async def _analyze(self, user: User, subject: _Subject) -> Analysis:
        fallback_reason: str | None = None
        if self.openai is not None:
            if self.openai.breaker.state is CircuitState.OPEN:
                fallback_reason = (
                    "OpenAI is not called while its circuit is open after repeated "
                    "failures; the local analyzer answered."
                )
                self.metrics.openai_errors.labels("circuit_open").inc()
            else:
                key = self._key(user, subject, "openai")
                cached = await self._cached(key)
                if cached is not None:
                    return cached
                try:
                    insights = await self._ask_openai(subject)
                except OpenAIFailure as exc:
                    fallback_reason = f"{exc.message} The local analyzer answered."
                    log.warning(
                        "analysis.openai.fallback",
                        subject_type=subject.type,
                        subject_id=subject.id,
                        error_type=exc.error_type,
                    )
                else:
                    return await self._store(user, subject, key, "openai", insights)
        key = self._key(user, subject, "local")
        cached = await self._cached(key)
        if cached is not None:
            return cached.model_copy(update={"fallback_reason": fallback_reason})
        return await self._store(
            user, subject, key, "local", subject.local(), fallback_reason
        )

    async def _ask_openai(self, subject: _Subject) -> Insights:
        messages = [
            {"role": "system", "content": subject.system_prompt},
            {
                "role": "user",
                "content": user_message(
                    subject.type.capitalize(), subject.prompt_payload
                ),
            },
        ]
        return await self.openai.structured(
            messages, subject.schema, f"{subject.type}_insights"
        )

    def _key(self, user: User, subject: _Subject, analyzer: str) -> str:
        openai = analyzer == "openai"
        return cache_key(
            owner=user.id,
            subject_type=subject.type,
            subject_id=subject.id,
            inputs=subject.prompt_payload,
            analyzer=analyzer,
            model=self.settings.openai_model if openai else None,
            prompt_version=PROMPT_VERSION if openai else LOCAL_ANALYZER_VERSION,
        )

    async def _cached(self, key: str) -> Analysis | None:
        value = await self.cache.get(key)
        if value is None:
            self.metrics.cache_misses.inc()
            return None
        self.metrics.cache_hits.inc()
        analysis = Analysis.model_validate(value)
        return analysis.model_copy(update={"cached": True})

    async def _store(
        self,
        user: User,
        subject: _Subject,
        key: str,
        analyzer: str,
        insights: Insights,
        fallback_reason: str | None = None,
    ) -> Analysis:
        checked, dropped = verify(insights, subject.facts)
        if not summary_is_sourced(checked.summary, subject.facts):
            dropped.append(
                DroppedFinding(
                    section="summary",
                    title=checked.summary[:120],
                    reason="unsourced_number",
                    detail="replaced by the local analyzer's summary",
                )
            )
            checked.summary = subject.local().summary
        for item in dropped:
            self.metrics.findings_dropped.labels(item.reason).inc()
            log.warning(
                "analysis.finding.dropped",
                subject_type=subject.type,
                subject_id=subject.id,
                section=item.section,
                reason=item.reason,
                detail=item.detail,
            )
        openai = analyzer == "openai"
        document = new_document(
            owner=user.id,
            subject_type=subject.type,
            subject_id=subject.id,
            analyzer=analyzer,
            model=self.settings.openai_model if openai else None,
            prompt_version=PROMPT_VERSION if openai else LOCAL_ANALYZER_VERSION,
            fallback_reason=fallback_reason,
            input_hash=key.rsplit(":", 1)[-1],
            result=checked.model_dump(mode="json"),
            dropped_findings=[d.model_dump() for d in dropped],
            markdown=render_markdown(subject.title, checked, analyzer, fallback_reason),
            created_at=datetime.now(UTC),
        )
        document["_id"] = await self.repository.insert(document)
        analysis = to_analysis(document, cached=False)
        await self.cache.put(
            key, analysis.model_dump(mode="json"), (user.id, subject.type, subject.id)
        )
        log.info(
            "analysis.created",
            analysis_id=analysis.id,
            subject_type=subject.type,
            subject_id=subject.id,
            analyzer=analyzer,
            dropped=len(dropped),
        )
        return analysis


def _result(document: dict[str, Any]) -> Insights:
    if document["subject_type"] == "dataset":
        return DatasetInsights.model_validate(document["result"])
    return ModelInsights.model_validate(document["result"])


def to_analysis(document: dict[str, Any], *, cached: bool) -> Analysis:
    return Analysis(
        id=str(document["_id"]),
        subject_type=document["subject_type"],
        subject_id=document["subject_id"],
        analyzer=document["analyzer"],
        model=document.get("model"),
        prompt_version=document["prompt_version"],
        fallback_reason=document.get("fallback_reason"),
        cached=cached,
        created_at=document["created_at"],
        result=_result(document),
        dropped_findings=document.get("dropped_findings", []),
        markdown=document.get("markdown", ""),
    )


def to_summary(document: dict[str, Any]) -> AnalysisSummary:
    return AnalysisSummary(
        id=str(document["_id"]),
        subject_type=document["subject_type"],
        subject_id=document["subject_id"],
        analyzer=document["analyzer"],
        model=document.get("model"),
        prompt_version=document["prompt_version"],
        fallback_reason=document.get("fallback_reason"),
        created_at=document["created_at"],
        summary=document["result"].get("summary", ""),
    )
