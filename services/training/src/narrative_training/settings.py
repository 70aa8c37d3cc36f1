"""Settings of the training API and worker, read from the environment."""

from pydantic import AliasChoices, Field

from narrative_common.settings import CommonSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"TRAINING_{name}", name.lower())


class TrainingSettings(CommonSettings):
    """Connection settings without a prefix, training settings under TRAINING_."""

    queue_name: str = Field("narrative:training", validation_alias=_env("QUEUE_NAME"))
    # The longest a single training run may take before arq cancels it.
    job_timeout_seconds: int = Field(
        3600, ge=10, validation_alias=_env("JOB_TIMEOUT_SECONDS")
    )
    # How long arq keeps a finished job's result in Redis; MongoDB keeps the record.
    keep_result_seconds: int = Field(
        3600, ge=0, validation_alias=_env("KEEP_RESULT_SECONDS")
    )
    # arq retries of one attempt that raised Retry (a dependency was down).
    max_tries: int = Field(3, ge=1, validation_alias=_env("MAX_TRIES"))
    # Times a job is started again after its worker died mid-run.
    max_attempts: int = Field(2, ge=1, validation_alias=_env("MAX_ATTEMPTS"))
    # How often an idle worker polls the queue; arq's default is 0.5 s.
    poll_delay_seconds: float = Field(
        0.1, gt=0, validation_alias=_env("POLL_DELAY_SECONDS")
    )
    worker_max_jobs: int = Field(1, ge=1, validation_alias=_env("WORKER_MAX_JOBS"))
    worker_port: int = Field(
        8021,
        validation_alias=AliasChoices(
            "TRAINING_WORKER_METRICS_PORT", "TRAINING_WORKER_PORT", "worker_port"
        ),
    )
    worker_host: str = Field("0.0.0.0", validation_alias=_env("WORKER_HOST"))
    heartbeat_seconds: float = Field(
        5.0, gt=0, validation_alias=_env("HEARTBEAT_SECONDS")
    )
    # A running job whose heartbeat is older than this is taken as lost.
    stale_after_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("STALE_AFTER_SECONDS")
    )
    reaper_interval_seconds: float = Field(
        15.0, gt=0, validation_alias=_env("REAPER_INTERVAL_SECONDS")
    )
    # Threads scikit-learn may use inside one fit (random forests).
    n_jobs: int = Field(2, ge=1, validation_alias=_env("N_JOBS"))
    max_dataset_rows: int = Field(
        2_000_000, ge=1, validation_alias=_env("MAX_DATASET_ROWS")
    )
