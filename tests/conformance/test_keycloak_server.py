"""Keycloak really reads its secrets from the rendered `keycloak.conf` (not from env).

The container gets the bootstrap admin's password and the database password only in
`/opt/keycloak/conf/keycloak.conf` (a secret file); its env has just the username. This
starts the real distribution with exactly that split and logs in as the bootstrap admin.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from components.keycloak_server import ADMIN_USERNAME, config_text
from tests.servers._process import LOOPBACK, ServerProcess, free_port
from tests.servers.keycloak_server import (
    BUILD_OPTIONS,
    _java_env,
    _private_copy,
    keycloak_home,
)

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def keycloak_from_conf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, float]]:
    workdir = tmp_path_factory.mktemp("kc-conf")
    home = _private_copy(keycloak_home(), workdir / "keycloak")
    password = secrets.token_urlsafe(24)
    (home / "conf" / "keycloak.conf").write_text(config_text(db_password=secrets.token_urlsafe(12), admin_password=password))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "KEYCLOAK_", "JAVA_OPTS"))}
    env |= _java_env() | {"HOME": str(workdir), "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USERNAME}
    port, management = free_port(), free_port()
    argv = [str(home / "bin" / "kc.sh"), "start-dev", *BUILD_OPTIONS, f"--http-host={LOOPBACK}", f"--http-port={port}", f"--http-management-port={management}"]
    process = ServerProcess("Keycloak (keycloak.conf)", argv, log_path=workdir / "keycloak.log", env=env, cwd=workdir).start()
    started = time.monotonic()
    base = f"http://{LOOPBACK}:{port}"
    try:
        process.wait_until(lambda: httpx.get(f"{base}/realms/master", timeout=5).status_code == 200, timeout=240, what="serving the master realm", interval=0.5)
        yield base, password, time.monotonic() - started
    finally:
        process.stop(timeout=30)


def test_bootstrap_admin_password_comes_from_keycloak_conf(keycloak_from_conf) -> None:
    base, password, _ = keycloak_from_conf
    token = httpx.post(
        f"{base}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": ADMIN_USERNAME, "password": password},
    )
    assert token.status_code == 200, token.text
    wrong = httpx.post(
        f"{base}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": ADMIN_USERNAME, "password": password + "x"},
    )
    assert wrong.status_code == 401
