"""Settings of the ai-analysis service.

Its own fields carry the ANALYSIS_ prefix. The OpenAI fields keep the names the
OpenAI SDK reads (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL), and an empty
value means "not set", as in `.env.example`.
"""

from pydantic import AliasChoices, Field, SecretStr, field_validator

from narrative_common.settings import CommonSettings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"ANALYSIS_{name}")


class AnalysisSettings(CommonSettings):
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL")
    )
    openai_model: str = Field(
        DEFAULT_OPENAI_MODEL, validation_alias=AliasChoices("OPENAI_MODEL")
    )

    # Timeout of one OpenAI request, and the bounds on retrying it: attempts
    # and the total time over all attempts and waits.
    openai_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("OPENAI_TIMEOUT_SECONDS")
    )
    openai_max_attempts: int = Field(
        4, ge=1, validation_alias=_env("OPENAI_MAX_ATTEMPTS")
    )
    openai_max_total_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("OPENAI_MAX_TOTAL_SECONDS")
    )
    openai_backoff_initial_seconds: float = Field(
        0.5, ge=0, validation_alias=_env("OPENAI_BACKOFF_INITIAL_SECONDS")
    )
    openai_backoff_max_seconds: float = Field(
        8.0, ge=0, validation_alias=_env("OPENAI_BACKOFF_MAX_SECONDS")
    )
    # A Retry-After header on a 429 is honoured up to this many seconds.
    openai_retry_after_max_seconds: float = Field(
        20.0, ge=0, validation_alias=_env("OPENAI_RETRY_AFTER_MAX_SECONDS")
    )
    openai_max_output_tokens: int = Field(
        2500, ge=256, validation_alias=_env("OPENAI_MAX_OUTPUT_TOKENS")
    )

    # The circuit opens after this many consecutive failed OpenAI requests and
    # lets one trial request through after the cool-down.
    circuit_failure_threshold: int = Field(
        5, ge=1, validation_alias=_env("CIRCUIT_FAILURE_THRESHOLD")
    )
    circuit_reset_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("CIRCUIT_RESET_SECONDS")
    )

    cache_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=1, validation_alias=_env("CACHE_TTL_SECONDS")
    )

    @field_validator("openai_api_key", "openai_base_url", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("openai_model", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return DEFAULT_OPENAI_MODEL
        return value

    @property
    def openai_enabled(self) -> bool:
        return self.openai_api_key is not None
