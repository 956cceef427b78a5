"""The embedded defaults: no database URL means SQLite, no Redis URL means an in-process cache.
Tokens still come from the real Keycloak realm."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.cache import MemoryCache
from app.settings import Settings
from tests.app.cases import material, request
from tests.app.platform import PsraRealm

pytestmark = pytest.mark.servers


def test_sqlite_and_memory_cache(tmp_path: Any, keycloak_server: Any, psra_realm: PsraRealm) -> None:
    settings = Settings(sqlite_path=tmp_path / "psra.sqlite3", keycloak_url=keycloak_server.base_url)
    with TestClient(create_app(settings)) as client:
        services = client.app.state.services
        assert services.engine.url.get_backend_name() == "sqlite" and isinstance(services.cache, MemoryCache)
        alice = psra_realm.headers("alice")
        body = request("CETA", "850110", "100.00", [material("850300", "CN", "40.00"), material("854449", "CN", "30.00")])
        created = client.post("/v1/origin/calculations", json=body, headers=alice)
        assert created.status_code == 201, created.text
        assert created.json()["originating"] is True
        services.cache.delete_prefix("certificate:")
        assert client.get(created.headers["location"], headers=alice).json() == created.json()
        assert client.get("/v1/hs-codes/8501", headers=alice).json()["chapter"] == "85"
        assert client.get("/readyz").json()["checks"] == {"database": True, "cache": True}
    assert (tmp_path / "psra.sqlite3").stat().st_size > 0
