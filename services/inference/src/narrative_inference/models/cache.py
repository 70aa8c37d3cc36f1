"""The in-memory cache of loaded ONNX models.

Bounded by entry count and by artifact bytes, least recently used out first.
Concurrent first requests for a model share one load, and every hit checks
that the caller owns the model.
"""

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from narrative_common.auth import User
from narrative_inference.metrics import METRICS, InferenceMetrics
from narrative_inference.models.errors import ModelNotFoundError
from narrative_inference.models.onnx_model import LoadedModel
from narrative_inference.models.schemas import CacheEntryStatus, CacheStatus

log = structlog.stdlib.get_logger(__name__)

# Fetches a model's metadata and artifact on behalf of a user and opens its
# session. Raises ModelNotFoundError when the user does not own the model.
Loader = Callable[[str, User], Awaitable[LoadedModel]]
# Called with (model_id, owner) on every load and hit.
UseListener = Callable[[str, str], None]

EVICTION_REASONS = ("capacity", "deleted", "explicit")


class ModelCache:
    def __init__(
        self,
        loader: Loader,
        *,
        max_entries: int,
        max_bytes: int,
        metrics: InferenceMetrics = METRICS,
        on_use: UseListener | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._loader = loader
        self._metrics = metrics
        self._on_use = on_use
        self._entries: OrderedDict[str, LoadedModel] = OrderedDict()
        self._loads: dict[tuple[str, str], asyncio.Task[LoadedModel]] = {}
        # Loads in flight whose model was evicted meanwhile: their result is
        # returned to the waiting requests but not stored.
        self._stale_loads: set[tuple[str, str]] = set()
        self.total_bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions: Counter[str] = Counter()
        self.loads = 0
        self._recent_load_ms: deque[float] = deque(maxlen=100)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._entries

    def model_ids(self) -> list[str]:
        """Return the cached model ids, least recently used first."""
        return list(self._entries)

    async def get(self, model_id: str, user: User) -> LoadedModel:
        """Return the user's model from the cache, loading it on a miss."""
        entry = self._entries.get(model_id)
        if entry is not None:
            if entry.owner != user.id:
                raise ModelNotFoundError(model_id)
            self._entries.move_to_end(model_id)
            entry.hits += 1
            entry.last_used = time.time()
            self.hits += 1
            self._metrics.cache_hits.inc()
            if self._on_use is not None:
                self._on_use(model_id, entry.owner)
            return entry
        self.misses += 1
        self._metrics.cache_misses.inc()
        key = (model_id, user.id)
        task = self._loads.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._load_and_store(model_id, user)
            )
            self._loads[key] = task
            task.add_done_callback(lambda _task: self._finish_load(key))
        # shield: a request that is cancelled stops waiting but does not
        # cancel the load that other requests share.
        model = await asyncio.shield(task)
        if model.owner != user.id:
            raise ModelNotFoundError(model_id)
        return model

    def _finish_load(self, key: tuple[str, str]) -> None:
        self._loads.pop(key, None)
        self._stale_loads.discard(key)

    async def _load_and_store(self, model_id: str, user: User) -> LoadedModel:
        start = time.perf_counter()
        model = await self._loader(model_id, user)
        await asyncio.to_thread(model.warm_up)
        model.load_ms = (time.perf_counter() - start) * 1000
        self.loads += 1
        self._recent_load_ms.append(model.load_ms)
        self._metrics.load_duration.observe(model.load_ms / 1000)
        log.info(
            "model.loaded",
            model_id=model_id,
            owner=model.owner,
            bytes=model.nbytes,
            load_ms=round(model.load_ms, 2),
            warmup_ms=round(model.warmup_ms, 2),
        )
        if (model_id, user.id) in self._stale_loads:
            log.info("model.load.discarded", model_id=model_id, reason="evicted")
        elif model.owner == user.id:
            self._store(model)
        if self._on_use is not None:
            self._on_use(model_id, model.owner)
        return model

    def _store(self, model: LoadedModel) -> None:
        if model.nbytes > self.max_bytes:
            log.warning(
                "model.cache.too_large",
                model_id=model.model_id,
                bytes=model.nbytes,
                max_bytes=self.max_bytes,
            )
            return
        previous = self._entries.pop(model.model_id, None)
        if previous is not None:
            self.total_bytes -= previous.nbytes
        self._entries[model.model_id] = model
        self.total_bytes += model.nbytes
        while (
            len(self._entries) > self.max_entries or self.total_bytes > self.max_bytes
        ):
            oldest_id = next(iter(self._entries))
            self._remove(oldest_id, "capacity")
        self._update_gauges()

    def _remove(self, model_id: str, reason: str) -> None:
        entry = self._entries.pop(model_id)
        self.total_bytes -= entry.nbytes
        self.evictions[reason] += 1
        self._metrics.cache_evictions.labels(reason).inc()
        log.info("model.evicted", model_id=model_id, reason=reason, bytes=entry.nbytes)

    def evict(self, model_id: str, reason: str) -> bool:
        """Remove a model, and keep any load in flight from storing it.

        Returns whether the model was cached.
        """
        for key in self._loads:
            if key[0] == model_id:
                self._stale_loads.add(key)
        if model_id not in self._entries:
            return False
        self._remove(model_id, reason)
        self._update_gauges()
        return True

    def evict_owned(self, model_id: str, user: User) -> None:
        """Remove one of the user's models; another user's model is not found."""
        entry = self._entries.get(model_id)
        if entry is None or entry.owner != user.id:
            raise ModelNotFoundError(model_id)
        self.evict(model_id, "explicit")

    def _update_gauges(self) -> None:
        self._metrics.cache_entries.set(len(self._entries))
        self._metrics.cache_bytes.set(self.total_bytes)

    def status(self, user: User, preload: dict) -> CacheStatus:
        """Describe the user's own entries, with totals an admin sees for all users.

        A normal user's totals cover only their own entries, and the counters
        kept for the whole cache (misses, evictions, loads, load times) are
        null for them, because those reveal other users' activity. The
        preload state is only counts of the startup preload, so everyone
        sees it.
        """
        own = [
            entry
            for entry in reversed(self._entries.values())
            if entry.owner == user.id
        ]
        entries = [
            CacheEntryStatus(
                model_id=entry.model_id,
                model_type=entry.metadata.model_type,
                bytes=entry.nbytes,
                loaded_at=entry.loaded_at,
                last_used=datetime.fromtimestamp(entry.last_used, UTC),
                hits=entry.hits,
                load_ms=round(entry.load_ms, 2),
                warmup_ms=round(entry.warmup_ms, 2),
            )
            for entry in own
        ]
        common = {
            "entries": entries,
            "max_entries": self.max_entries,
            "max_bytes": self.max_bytes,
            "preload": preload,
        }
        if not user.is_admin:
            return CacheStatus(
                scope="own",
                total_entries=len(own),
                total_bytes=sum(entry.nbytes for entry in own),
                hits=sum(entry.hits for entry in own),
                **common,
            )
        load_times = list(self._recent_load_ms)
        return CacheStatus(
            scope="all",
            total_entries=len(self._entries),
            total_bytes=self.total_bytes,
            hits=self.hits,
            misses=self.misses,
            evictions={reason: self.evictions[reason] for reason in EVICTION_REASONS},
            loads=self.loads,
            load_ms_mean=(
                round(sum(load_times) / len(load_times), 2) if load_times else None
            ),
            load_ms_max=round(max(load_times), 2) if load_times else None,
            **common,
        )
