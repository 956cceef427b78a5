"""/readyz answers in bounded time when a dependency hangs instead of refusing.

Found by the live lab: with PostgreSQL's container stopped, /readyz did not answer within 10 s,
so the outage looked like a dead app instead of a 503."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.api.main import create_app
from app.api.readiness import BoundedCheck
from app.api.services import database_reachable
from app.settings import Settings


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word, like a host that went away mid-handshake."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def readiness_threads() -> int:
    return sum(thread.name.startswith("readiness") for thread in threading.enumerate())


def test_a_hung_database_reads_not_ready_within_the_bound_and_probes_share_one_check(tmp_path: Path, silent_listener: int) -> None:
    settings = Settings(local_mode=True, sqlite_path=tmp_path / "psra.sqlite3")
    hung = create_engine(f"postgresql+psycopg://psra:unused@127.0.0.1:{silent_listener}/psra")
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        services = client.app.state.services
        assert client.get("/readyz").json() == {"status": "ready", "checks": {"database": True, "cache": True}}
        before = readiness_threads()
        services.dependencies["database"].close()
        services.dependencies["database"] = BoundedCheck(partial(database_reachable, hung), 0.3)
        for _ in range(5):
            started = time.perf_counter()
            answer = client.get("/readyz")
            assert time.perf_counter() - started < 2.0
            assert answer.status_code == 503
            assert answer.json() == {"status": "not ready", "checks": {"database": False, "cache": True}}
        # five probes, one hung connection attempt: the check is shared, not stacked
        assert readiness_threads() - before <= 1
    hung.dispose()


def test_a_passing_check_reads_true_and_a_failing_one_false() -> None:
    assert asyncio.run(BoundedCheck(lambda: True, 1.0).passes()) is True
    assert asyncio.run(BoundedCheck(lambda: False, 1.0).passes()) is False
