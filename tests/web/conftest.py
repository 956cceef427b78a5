"""Fixtures for the browser tests: the origin app served by uvicorn in its own process, in platform mode
(users from Keycloak tokens, verified like API tokens) and in the local mode (`python -m app.web`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers._process import ServerProcess, free_port, make_workdir
from tests.web.realm import REALM, WebRealm, provision_web_realm

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningApp:
    base_url: str
    process: ServerProcess


def serve_app(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Iterator[RunningApp]:
    process = ServerProcess(name, argv, log_path=workdir / f"{name}.log", env={**os.environ, **env}, cwd=ROOT).start()
    base_url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        process.wait_until(healthy, timeout=120)
        yield RunningApp(base_url, process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def web_realm(keycloak_server: Any) -> WebRealm:
    return provision_web_realm(keycloak_server)


@pytest.fixture(scope="session")
def platform_app(keycloak_server: Any, web_realm: WebRealm) -> Iterator[RunningApp]:
    """The app as the platform runs it (users from access tokens), on SQLite and an in-process cache."""
    workdir = make_workdir("psra-web-platform-")
    port = free_port()
    env = {
        "PSRA_SQLITE_PATH": str(workdir / "psra.sqlite3"),
        "PSRA_KEYCLOAK_URL": keycloak_server.base_url,
        "PSRA_KEYCLOAK_REALM": REALM,
        "PSRA_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    argv = [sys.executable, "-m", "uvicorn", "--factory", "app.api.main:create_app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    yield from serve_app("psra-web-platform", argv, env, port, workdir)


@pytest.fixture(scope="session")
def local_app() -> Iterator[RunningApp]:
    """`make web`'s server: the local mode on 127.0.0.1."""
    workdir = make_workdir("psra-web-local-")
    port = free_port()
    argv = [sys.executable, "-m", "app.web", "--host", "127.0.0.1", "--port", str(port), "--database", str(workdir / "psra.sqlite3")]
    yield from serve_app("psra-web-local", argv, {}, port, workdir)
