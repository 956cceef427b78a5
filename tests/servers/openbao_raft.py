"""A non-dev OpenBao with integrated (raft) storage on 127.0.0.1, initialised with one key
share and unsealed: what `sys/storage/raft/snapshot` needs (the dev server keeps its data in
memory and has no raft snapshot).

    from tests.servers.openbao_raft import running_openbao_raft
    with running_openbao_raft() as bao:         # an OpenBaoDev handle (addr, root_token, client())
        bao.client().sys.take_raft_snapshot()
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator

from ._process import (
    LOOPBACK,
    ServerProcess,
    ServerStartError,
    free_port_pair,
    make_workdir,
)
from .openbao import OpenBaoDev, find_bao_binary


@contextlib.contextmanager
def running_openbao_raft(*, startup_timeout: float = 60.0, base_dir: str | None = None) -> Iterator[OpenBaoDev]:
    import httpx

    started = time.monotonic()
    workdir = make_workdir("sevensa-bao-raft-", base_dir)
    proc: ServerProcess | None = None
    try:
        port = free_port_pair()
        addr = f"http://{LOOPBACK}:{port}"
        (workdir / "raft").mkdir()
        config = workdir / "openbao.hcl"
        config.write_text(
            f'storage "raft" {{\n  path = "{workdir / "raft"}"\n  node_id = "backup-test"\n}}\n'
            f'listener "tcp" {{\n  address = "{LOOPBACK}:{port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{addr}"\ncluster_addr = "http://{LOOPBACK}:{port + 1}"\ndisable_mlock = true\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))} | {"HOME": str(workdir), "SKIP_SETCAP": "1"}
        proc = ServerProcess("OpenBao (raft)", [find_bao_binary(), "server", f"-config={config}"], log_path=workdir / "bao.log", env=env, cwd=workdir).start()
        proc.wait_until(lambda: httpx.get(f"{addr}/v1/sys/health", timeout=2).status_code == 501, timeout=startup_timeout, what="listening (uninitialised)")
        init = httpx.put(f"{addr}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, timeout=30).json()
        if "root_token" not in init:
            raise ServerStartError(f"OpenBao (raft): init failed: {init.get('errors')}")
        httpx.put(f"{addr}/v1/sys/unseal", json={"key": init["keys"][0]}, timeout=30).raise_for_status()
        proc.wait_until(lambda: httpx.get(f"{addr}/v1/sys/health", timeout=2).status_code == 200, timeout=startup_timeout, what="unsealed and active")
        yield OpenBaoDev(addr=addr, root_token=init["root_token"], port=port, log_path=proc.log_path, startup_seconds=time.monotonic() - started)
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
