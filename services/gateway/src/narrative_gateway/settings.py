from pydantic import Field
from pydantic_settings import SettingsConfigDict

from narrative_common.settings import CommonSettings


class GatewaySettings(CommonSettings):
    """Gateway settings: the shared ones plus `GATEWAY_*`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Seconds a verified key stays cached in the process. A revoked key keeps
    # working for at most this long on each gateway replica.
    gateway_auth_cache_seconds: float = Field(30.0, ge=0)
    gateway_auth_cache_entries: int = Field(10_000, ge=1)
    # Seconds between refreshes of business_active_users from Redis.
    gateway_active_users_refresh_seconds: float = Field(30.0, gt=0)
    # Seconds to wait for one service's /health/detailed or /openapi.json.
    gateway_service_timeout_seconds: float = Field(3.0, gt=0)
