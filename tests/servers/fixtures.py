"""pytest plugin: session-scoped real servers.

Enable with ``pytest_plugins = ["tests.servers.fixtures"]`` in tests/conftest.py.

Fixtures (each starts its server once per session — or once per xdist worker):

- ``postgres_server`` -> PostgresServer: .host .port .user .password (superuser),
  .dsn(dbname="postgres") -> "postgresql+psycopg://...", .create_database(name) -> URL
- ``redis_server`` -> RedisServer: .host .port .password .url ("redis://:PW@127.0.0.1:PORT/0")
- ``mariadb_server`` -> MariaDBServer: .host .port .user .password (superuser over TCP),
  .query(db, sql) -> rows, .create_database(name)
- ``openbao_dev`` -> OpenBaoDev: .addr .root_token .client(namespace=None) -> hvac.Client
- ``own_openbao_dev`` -> OpenBaoDev of one test alone (function scope)
- ``keycloak_server`` -> KeycloakServer: .base_url .admin_user .admin_password
  .admin() -> keycloak.KeycloakAdmin (master realm)

A server that cannot start makes the requesting test fail (pytest.fail with the
reason and the server's log tail) — never skip.

Keycloak takes ~10-15 s to boot, so when the collected tests use
``keycloak_server`` it is launched right after collection and boots while the
other tests run (not on xdist workers; disable with SEVENSA_SERVERS_PRESTART=0).
PostgreSQL, Redis and OpenBao start lazily on first use (< 1 s each).
Start-up times are shown in the terminal summary.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._process import ServerStartError
from .keycloak_server import KeycloakLauncher, KeycloakServer
from .mariadb import MariaDBServer, running_mariadb
from .openbao import OpenBaoDev, running_openbao_dev
from .postgres import PostgresServer, running_postgres
from .redis_server import RedisServer, running_redis

_startup_times: dict[str, float] = {}
_prestarted: dict[str, KeycloakLauncher | ServerStartError] = {}


def serve(name: str, factory: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[Any]:
    """Yield the server `factory` starts; a server that cannot start fails the test (never skips)."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(factory())
        except ServerStartError as exc:
            reason = str(exc)
        else:
            reason = None
        if reason is not None:  # outside `except`: no "during handling" noise
            pytest.fail(f"{name} could not be started:\n{reason}", pytrace=False)
        _startup_times[name] = getattr(server, "startup_seconds", 0.0)
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from serve("PostgreSQL", running_postgres)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from serve("Redis", running_redis)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    yield from serve("MariaDB", running_mariadb)


@pytest.fixture(scope="session")
def openbao_dev() -> Iterator[OpenBaoDev]:
    yield from serve("OpenBao (dev)", running_openbao_dev)


@pytest.fixture
def own_openbao_dev() -> Iterator[OpenBaoDev]:
    """An OpenBao dev server for one test alone, for tests that mount fixed root paths
    (`approle`, `sevensa`) which other suites on the session server may have taken."""
    yield from serve("OpenBao (dev, own)", running_openbao_dev)


@pytest.fixture(scope="session")
def keycloak_server() -> Iterator[KeycloakServer]:
    early = _prestarted.pop("keycloak", None)
    if isinstance(early, ServerStartError):
        pytest.fail(f"Keycloak could not be started:\n{early}", pytrace=False)
    # a prestarted launcher is entered (waits for readiness); otherwise launch now
    yield from serve("Keycloak", lambda: early if early is not None else KeycloakLauncher())


# -- background start of Keycloak ------------------------------------------------


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if os.environ.get("SEVENSA_SERVERS_PRESTART", "1") == "0":
        return
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    if not any("keycloak_server" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    try:
        _prestarted["keycloak"] = KeycloakLauncher().launch()
    except ServerStartError as exc:  # reported by the fixture, as a test failure
        _prestarted["keycloak"] = exc


def pytest_sessionfinish(session: pytest.Session) -> None:
    # launched but never used (e.g. -x stopped the run first)
    early = _prestarted.pop("keycloak", None)
    if isinstance(early, KeycloakLauncher):
        early.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if _startup_times:
        parts = ", ".join(f"{name} {secs:.1f}s" for name, secs in _startup_times.items())
        terminalreporter.write_line(f"real servers started: {parts}")
