"""Fixtures for the app tests.

The server fixtures (postgres_server, redis_server, openbao_dev, keycloak_server) come from the
tests.servers.fixtures plugin and are not redefined here; these fixtures provision them the way the
platform does (tests/app/platform.py) and start the app in-process against them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.engine.assess import assess
from app.engine.report import AssessmentReport
from app.engine.request import AssessmentRequest
from app.engine.rulebook import RuleBook, default_rulebook
from app.settings import Settings
from tests.app.platform import (
    AppRoleFiles,
    PsraRealm,
    provision_openbao,
    provision_realm,
)
from tests.app.served import ServedApp, platform_env, serving_app


@pytest.fixture(scope="session")
def rulebook() -> RuleBook:
    return default_rulebook()


@pytest.fixture
def run(rulebook: RuleBook) -> Callable[[dict[str, Any]], AssessmentReport]:
    def _run(body: dict[str, Any]) -> AssessmentReport:
        return assess(AssessmentRequest.model_validate(body), rulebook)

    return _run


@pytest.fixture(scope="session")
def psra_realm(keycloak_server: Any) -> PsraRealm:
    return provision_realm(keycloak_server)


@pytest.fixture(scope="session")
def approle_files(openbao_dev: Any, postgres_server: Any, redis_server: Any) -> Iterator[AppRoleFiles]:
    with tempfile.TemporaryDirectory(prefix="psra-approle-") as directory:
        yield provision_openbao(openbao_dev, postgres_server, redis_server, Path(directory), "psra_app")


@pytest.fixture(scope="session")
def app_settings(approle_files: AppRoleFiles, openbao_dev: Any, redis_server: Any, keycloak_server: Any) -> Settings:
    return Settings(
        openbao_addr=openbao_dev.addr,
        openbao_role_id_file=approle_files.role_id_file,
        openbao_secret_id_file=approle_files.secret_id_file,
        redis_host=redis_server.host,
        redis_port=redis_server.port,
        keycloak_url=keycloak_server.base_url,
        oidc_leeway_seconds=0,
    )


@pytest.fixture(scope="session")
def api(app_settings: Settings, psra_realm: PsraRealm) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as client:
        yield client


@pytest.fixture(scope="session")
def served_api(app_settings: Settings, psra_realm: PsraRealm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """`python -m app serve` with two workers on the same servers as `api` (real sockets, worker memory)."""
    log = tmp_path_factory.mktemp("served-app") / "app.log"
    with serving_app({**os.environ, **platform_env(app_settings)}, workers=2, log=log) as served:
        yield served
