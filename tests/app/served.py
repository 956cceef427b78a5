"""The origin app as the container runs it: `python -m app serve` (uvicorn workers behind SO_REUSEPORT, the
metrics on their internal port) on 127.0.0.1, configured like the platform (OpenBao AppRole for the database
and Redis credentials, Keycloak for tokens). For tests and benchmarks that need real sockets and the
workers' memory: chunked bodies, the separate metrics port, the event loop's latency under attack.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from app.settings import Settings
from tests.servers._process import free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    metrics_url: str
    launcher: psutil.Process

    def workers(self) -> list[psutil.Process]:
        """The uvicorn worker processes (the launcher itself when it runs one worker)."""
        children = [p for p in self.launcher.children() if any("spawn_main" in part for part in p.cmdline())]
        return children or [self.launcher]

    def worker_rss(self) -> int:
        """The largest resident set of any worker, in bytes."""
        return max(worker.memory_info().rss for worker in self.workers())


def platform_env(settings: Settings) -> dict[str, str]:
    """PSRA_* variables that give a served app the same servers and credentials as `settings`."""
    assert settings.openbao_addr is not None
    return {
        "PSRA_OPENBAO_ADDR": settings.openbao_addr,
        "PSRA_OPENBAO_ROLE_ID_FILE": str(settings.openbao_role_id_file),
        "PSRA_OPENBAO_SECRET_ID_FILE": str(settings.openbao_secret_id_file),
        "PSRA_REDIS_HOST": settings.redis_host,
        "PSRA_REDIS_PORT": str(settings.redis_port),
        "PSRA_KEYCLOAK_URL": settings.keycloak_url,
        "PSRA_OIDC_LEEWAY_SECONDS": str(settings.oidc_leeway_seconds),
    }


@contextlib.contextmanager
def serving_app(env: dict[str, str], workers: int, log: Path, startup_timeout: float = 120) -> Iterator[ServedApp]:
    """Run the app until the block ends; fails with the log tail when it does not become ready."""
    port, metrics_port = free_port(HOST), free_port(HOST)
    command = [sys.executable, "-m", "app", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers), "--metrics-port", str(metrics_port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            served = ServedApp(f"http://{HOST}:{port}", f"http://{HOST}:{metrics_port}/metrics", psutil.Process(process.pid))
            deadline = time.monotonic() + startup_timeout
            while not _ready(served.base_url):
                if process.poll() is not None:
                    raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not become ready in {startup_timeout:.0f}s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield served
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def _ready(base_url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    return False
