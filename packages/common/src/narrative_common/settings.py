"""Settings shared by every service, read from the environment and `.env`."""

from enum import StrEnum

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_INTERNAL_TOKEN = "development-internal-token"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class CommonSettings(BaseSettings):
    """Connection and runtime settings that every service reads without a prefix.

    Service settings subclass this and add their own fields under their own
    prefix through `service_field`.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    log_format: str = Field("json", pattern="^(json|console)$")

    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "narrative_modeling"
    mongodb_max_pool_size: int = Field(100, ge=1)
    mongodb_min_pool_size: int = Field(0, ge=0)
    mongodb_timeout_ms: int = Field(5000, ge=100)

    redis_url: str = "redis://127.0.0.1:6380/0"
    redis_max_connections: int = Field(100, ge=1)
    redis_timeout_seconds: float = Field(5.0, gt=0)

    s3_endpoint_url: str | None = "http://127.0.0.1:8333"
    aws_access_key_id: str = "narrative"
    aws_secret_access_key: SecretStr = SecretStr("narrative-secret")
    aws_region: str = "us-east-1"
    s3_bucket_uploads: str = "narrative-uploads"
    s3_bucket_models: str = "narrative-models"
    s3_max_pool_connections: int = Field(50, ge=1)
    # Seconds one S3 socket read may wait. A stalled S3 fails a call after
    # about twice this (two attempts), so requests end in a 503, not a hang.
    s3_timeout_seconds: float = Field(10.0, gt=0)

    internal_token: SecretStr = SecretStr(DEVELOPMENT_INTERNAL_TOKEN)

    gateway_url: str = "http://127.0.0.1:8001"
    datasets_url: str = "http://127.0.0.1:8010"
    training_url: str = "http://127.0.0.1:8020"
    inference_url: str = "http://127.0.0.1:8030"
    analysis_url: str = "http://127.0.0.1:8040"
    service_call_timeout_seconds: float = Field(10.0, gt=0)

    metrics_max_tracked_ids: int = Field(100, ge=0)
    health_check_timeout_seconds: float = Field(2.0, gt=0)
    # Seconds between background runs of the dependency checks.
    health_refresh_seconds: float = Field(15.0, gt=0)

    @model_validator(mode="after")
    def _reject_development_secrets_in_production(self) -> "CommonSettings":
        if self.environment is Environment.PRODUCTION:
            token = self.internal_token.get_secret_value()
            if token == DEVELOPMENT_INTERNAL_TOKEN or len(token) < 32:
                raise ValueError(
                    "INTERNAL_TOKEN must be set to a random value of at least 32 "
                    "characters in production, for example the output of "
                    "`openssl rand -hex 32`"
                )
        return self
