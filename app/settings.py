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

    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, le=16 * 1024 * 1024, description="largest request body (413 beyond), announced or streamed; a calculation of 200 materials is ~15 KiB"
    )
    metrics_port: int = Field(
        default=9464, ge=1, le=65535, description="internal port of the Prometheus metrics (the API port serves none; Traefik routes only the API port)"
    )
    api_docs: bool | None = Field(
        default=None, description="serve /docs and /openapi.json; unset: only on the embedded default (SQLite, no OpenBao), never in production"
    )

    origin_allow_unverified_rules: bool = Field(
        default=True,
        description="origin.allowUnverifiedRules: false refuses (422) calculations resting on rules data marked UNVERIFIED (the PEM rules) instead of answering with a warning",
    )

    certificate_ttl_seconds: int = 3600
    rules_ttl_seconds: int = 43200
    hs_code_ttl_seconds: int = 86400

    @property
    def serves_api_docs(self) -> bool:
        if self.api_docs is not None:
            return self.api_docs
        return self.database_url is None and self.openbao_addr is None

    @property
    def oidc_issuer(self) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"

    @property
    def oidc_jwks_url(self) -> str:
        return f"{self.oidc_issuer}/protocol/openid-connect/certs"

    @property
    def oidc_end_session_url(self) -> str:
        return f"{self.oidc_issuer}/protocol/openid-connect/logout"
