"""Settings of the inference service; its own fields carry the INFERENCE_ prefix."""

from pydantic import AliasChoices, Field

from narrative_common.settings import CommonSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"INFERENCE_{name}")


class InferenceSettings(CommonSettings):
    cache_max_entries: int = Field(32, ge=1, validation_alias=_env("CACHE_MAX_ENTRIES"))
    # Counted as the size of the ONNX artifacts, which is what a loaded
    # session's memory grows with; the session itself may take somewhat more.
    cache_max_bytes: int = Field(
        1024 * 1024 * 1024, ge=1, validation_alias=_env("CACHE_MAX_BYTES")
    )
    preload_count: int = Field(8, ge=0, validation_alias=_env("PRELOAD_COUNT"))
    preload_on_trained: bool = Field(True, validation_alias=_env("PRELOAD_ON_TRAINED"))
    # Each process writes a model to the recent-models set at most once per
    # interval (RecentModels.touch).
    recent_write_interval_seconds: float = Field(
        1.0, ge=0, validation_alias=_env("RECENT_WRITE_INTERVAL_SECONDS")
    )
    recent_max_tracked: int = Field(
        1000, ge=1, validation_alias=_env("RECENT_MAX_TRACKED")
    )
    # JSON bodies of /predict above this size get 413 before they are parsed.
    predict_max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1, validation_alias=_env("PREDICT_MAX_BODY_BYTES")
    )
    max_records_per_request: int = Field(
        10_000, ge=1, validation_alias=_env("MAX_RECORDS_PER_REQUEST")
    )
    # Requests with at most this many rows run onnxruntime on the event loop.
    # Larger ones run in a worker thread, so they do not stall other requests.
    inline_max_rows: int = Field(64, ge=0, validation_alias=_env("INLINE_MAX_ROWS"))
    batch_chunk_rows: int = Field(
        10_000, ge=1, validation_alias=_env("BATCH_CHUNK_ROWS")
    )
    # Chunks of one batch run through the model in parallel on this many threads.
    batch_threads: int = Field(2, ge=1, validation_alias=_env("BATCH_THREADS"))
    batch_max_upload_bytes: int = Field(
        500 * 1024 * 1024, ge=1, validation_alias=_env("BATCH_MAX_UPLOAD_BYTES")
    )
    batch_max_rows: int = Field(
        5_000_000, ge=1, validation_alias=_env("BATCH_MAX_ROWS")
    )
    session_intra_op_threads: int = Field(
        1, ge=1, validation_alias=_env("SESSION_INTRA_OP_THREADS")
    )
