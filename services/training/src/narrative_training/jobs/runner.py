"""The CPU-bound part of a job, run in a worker thread.

It reports progress through a thread-safe tracker that the event loop reads
for heartbeats, and stops at the next step once the job is cancelled.
"""

import io
import threading
import time
from dataclasses import dataclass, field

import pandas as pd

from narrative_training.pipeline.errors import TrainingCancelled, TrainingInputError
from narrative_training.pipeline.export import check_parity, to_onnx
from narrative_training.pipeline.targets import CLASSIFICATION
from narrative_training.pipeline.train import TrainingOutcome, TrainingRequest, train


@dataclass
class ProgressTracker:
    stage: str = "loading_data"
    fraction: float = 0.01
    cancelled: threading.Event = field(default_factory=threading.Event)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    _stage_started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, stage: str, fraction: float) -> None:
        if self.cancelled.is_set():
            raise TrainingCancelled()
        with self._lock:
            if stage != self.stage:
                self._close_stage()
                self.stage = stage
            self.fraction = fraction

    def _close_stage(self) -> None:
        now = time.perf_counter()
        elapsed = now - self._stage_started
        self.stage_seconds[self.stage] = self.stage_seconds.get(self.stage, 0) + elapsed
        self._stage_started = now

    def snapshot(self) -> tuple[str, float]:
        with self._lock:
            return self.stage, self.fraction

    def timings(self) -> list[dict]:
        with self._lock:
            self._close_stage()
            return [
                {"stage": stage, "seconds": round(seconds, 4)}
                for stage, seconds in self.stage_seconds.items()
            ]


@dataclass
class RunResult:
    outcome: TrainingOutcome
    onnx_bytes: bytes
    parity: dict


def read_parquet(data: bytes, max_rows: int) -> pd.DataFrame:
    frame = pd.read_parquet(io.BytesIO(data))
    if len(frame) > max_rows:
        raise TrainingInputError(
            f"The dataset has {len(frame)} rows; training accepts at most "
            f"{max_rows}. Upload a sample of the data."
        )
    return frame


def run_training(
    frame: pd.DataFrame,
    request: TrainingRequest,
    progress: ProgressTracker,
    model_name: str,
    n_jobs: int,
) -> RunResult:
    outcome = train(frame, request, progress, n_jobs=n_jobs)
    progress("exporting", 0.88)
    onnx_bytes = to_onnx(outcome.pipeline, outcome.plan.features, model_name)
    progress("checking_parity", 0.93)
    parity = check_parity(
        onnx_bytes,
        outcome.pipeline,
        outcome.x_test,
        outcome.plan.features,
        outcome.problem_type == CLASSIFICATION,
    )
    progress("storing", 0.96)
    return RunResult(outcome=outcome, onnx_bytes=onnx_bytes, parity=parity)
