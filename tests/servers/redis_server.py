"""A throw-away Redis server on 127.0.0.1 with ``requirepass`` and no persistence.

Usable without pytest::

    from tests.servers.redis_server import running_redis
    with running_redis() as r:
        client = redis.Redis.from_url(r.url)

(The module is not called ``redis.py`` so it can never shadow the redis client.)
The binary is ``SEVENSA_REDIS_SERVER`` or ``redis-server`` on PATH
(Debian: apt-get install -y redis-server).
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

from ._process import LOOPBACK, ServerProcess, ServerStartError, free_port, make_workdir


@dataclass
class RedisServer:
    host: str
    port: int
    password: str
    log_path: Path
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def client(self, db: int = 0, **kwargs):
        import redis

        return redis.Redis(host=self.host, port=self.port, password=self.password, db=db, **kwargs)


def find_redis_server() -> str:
    exe = os.environ.get("SEVENSA_REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.isfile(exe):
        raise ServerStartError(
            "redis-server not found; install it (Debian: apt-get install -y redis-server) "
            "or set SEVENSA_REDIS_SERVER"
        )
    return exe


@contextlib.contextmanager
def running_redis(
    *, startup_timeout: float = 15.0, port_attempts: int = 3, base_dir: str | None = None
) -> Iterator[RedisServer]:
    """Start a private redis-server; stop it and delete its files on exit."""
    exe = find_redis_server()
    started = time.monotonic()
    workdir = make_workdir("sevensa-redis-", base_dir)
    proc: ServerProcess | None = None
    try:
        password = secrets.token_hex(16)
        last_error: ServerStartError | None = None
        for _attempt in range(port_attempts):
            port = free_port()
            log_path = workdir / f"redis-{port}.log"
            # Config via a file, so the password is not visible in `ps`.
            conf = workdir / "redis.conf"
            conf.write_text(
                "\n".join(
                    [
                        f"bind {LOOPBACK}",
                        f"port {port}",
                        "protected-mode yes",
                        f'requirepass "{password}"',
                        "daemonize no",
                        'save ""',
                        "appendonly no",
                        f'dir "{workdir}"',
                        "databases 16",
                        "loglevel notice",
                        "",
                    ]
                )
            )
            conf.chmod(0o600)
            proc = ServerProcess("Redis", [exe, str(conf)], log_path=log_path, cwd=workdir).start()
            server = RedisServer(host=LOOPBACK, port=port, password=password, log_path=log_path)

            def ready(server: RedisServer = server) -> bool:
                # no retries: redis-py 8 would retry a refused connection with backoff
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                with server.client(socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 0)) as client:
                    return bool(client.ping())

            try:
                proc.wait_until(ready, timeout=startup_timeout, what="answering PING", interval=0.01)
            except ServerStartError as exc:
                proc.stop()
                if "Address already in use" in proc.log_tail(100):
                    last_error, proc = exc, None
                    continue
                raise
            server.startup_seconds = time.monotonic() - started
            break
        else:
            raise last_error or ServerStartError("Redis: no port attempt succeeded")

        yield server
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
