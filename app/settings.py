"""Service settings from the environment (prefix PSRA_), with the platform's conventions as defaults.

Without a database URL the service runs on an embedded SQLite file; without a Redis URL it caches in
process. With PSRA_OPENBAO_ADDR set, database and Redis credentials come from OpenBao instead.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PSRA_", extra="ignore")

    database_url: SecretStr | None = Field(default=None, description="SQLAlchemy URL; unset means SQLite at sqlite_path")
    sqlite_path: Path = Path("psra.sqlite3")
    database_driver: str = "postgresql+psycopg"
    db_pool_size: int = Field(
        default=10, ge=1, description="database connections per worker process, and as many again for POST /v1/origin/calculations (asyncio)"
    )
    db_max_overflow: int = Field(default=10, ge=0)
    migrate_on_startup: bool = True
    threadpool_size: int = Field(default=16, ge=1, description="threads for blocking work (database, cache) per worker process")

    redis_url: SecretStr | None = Field(default=None, description="redis://... ; unset means an in-process cache")
    redis_host: str = "localhost"
    redis_port: int = 6379
    redis_db: int = 0

    openbao_addr: str | None = None
    openbao_ca_cert: Path | None = None
    openbao_role_id_file: Path = Path("/run/secrets/psra_role_id")
    openbao_secret_id_file: Path = Path("/run/secrets/psra_secret_id")
    openbao_approle_mount: str = "approle"
    openbao_namespace: str = "psra"
    openbao_kv_mount: str = "kv"
    openbao_database_secret: str = "database/credentials"
    openbao_redis_secret: str = "database/redis-password"

    keycloak_url: str = "http://localhost:8080"
    keycloak_realm: str = "sevensa"
    oidc_audience: str = "psra-api"
    oidc_leeway_seconds: int = Field(default=30, ge=0)
    user_role: str = "psra-user"
    admin_role: str = "psra-admin"

    local_mode: bool = Field(
        default=False,
        description="`make web`: one built-in local user, no Keycloak, SQLite and an in-process cache, loopback clients only (app/web/local.py)",
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="the web pages' address as users see it; logout returns there")
    forward_auth_client_id: str = Field(default="oauth2-proxy", description="Keycloak client of the oauth2-proxy in front of the web pages")
    forward_auth_prefix: str = Field(default="/oauth2", description="oauth2-proxy's path prefix on the web pages' host")

    certificate_ttl_seconds: int = 3600
    rules_ttl_seconds: int = 43200
    hs_code_ttl_seconds: int = 86400

    @property
    def oidc_issuer(self) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"

    @property
    def oidc_jwks_url(self) -> str:
        return f"{self.oidc_issuer}/protocol/openid-connect/certs"

    @property
    def oidc_end_session_url(self) -> str:
        return f"{self.oidc_issuer}/protocol/openid-connect/logout"
