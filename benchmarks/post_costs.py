"""Benchmark: the CPU cost of each step of POST /v1/origin/calculations, outside the HTTP stack.

Runs the steps the endpoint runs, on the bodies `app_load.py` sends, one at a time, each many times:
parsing and validating the body, the canonical request hash, the engine, the report's JSON, the Redis
look-up and the two-key Redis write (redis.asyncio on a private Redis), and the atomic write of
certificate, materials and audit row (AtomicInserts on a private, migrated PostgreSQL). For each step
it prints this process's CPU time per call (user + system: loopback TCP costs the sender in the kernel)
and, for the I/O steps, the server's CPU time per call. Comparing the sum with the app workers' CPU per
POST that `app_load.py` prints shows what the HTTP/ASGI layers cost, and which floor the design has.

    .venv/bin/python benchmarks/post_costs.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import redis.asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.api.routes.calculations import StoredCalculation  # noqa: E402
from app.cache import canonical_hash  # noqa: E402
from app.db.inserts import AtomicInserts  # noqa: E402
from app.db.migrate import upgrade  # noqa: E402
from app.db.models import utcnow  # noqa: E402
from app.db.session import make_engine  # noqa: E402
from app.engine.assess import assess  # noqa: E402
from app.engine.request import AssessmentRequest  # noqa: E402
from app.engine.rulebook import default_rulebook  # noqa: E402
from app_load import calculation_body  # noqa: E402
from tests.servers.postgres import running_postgres  # noqa: E402
from tests.servers.redis_server import running_redis  # noqa: E402


def server_cpu(name: str) -> float:
    """CPU seconds so far of this process's children called `name` (the servers it started)."""
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name() == name:
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def line(step: str, calls: int, client_seconds: float, server: str = "", server_seconds: float = 0.0) -> str:
    served = f"   {server} {server_seconds / calls * 1e6:7.1f} us" if server else ""
    return f"{step:<50} {client_seconds / calls * 1e6:7.1f} us{served}"


def timed(step: str, calls: int, run: Callable[[int], object]) -> float:
    start = time.process_time()
    for index in range(calls):
        run(index)
    spent = time.process_time() - start
    print(line(step, calls, spent), flush=True)
    return spent


async def timed_io(step: str, calls: int, server: str, run: Callable[[int], Awaitable[object]]) -> float:
    await run(calls)  # connect and prepare outside the measurement
    start, served = time.process_time(), server_cpu(server)
    for index in range(calls):
        await run(index)
    spent = time.process_time() - start
    print(line(step, calls, spent, server, server_cpu(server) - served), flush=True)
    return spent


async def io_steps(calls: int, stored: list[StoredCalculation], inserts: AtomicInserts, cache: redis.asyncio.Redis) -> float:
    rulebook = default_rulebook()
    inserts.attach(asyncio.get_running_loop())
    try:

        async def look_up(index: int) -> object:
            return await cache.get(f"calculation:{stored[index].request_hash}")

        async def write_cache(index: int) -> object:
            pipeline = cache.pipeline(transaction=False)
            pipeline.set(f"calculation:{stored[index].request_hash}", stored[index].result_json.encode(), ex=3600)
            pipeline.set(f"certificate:{stored[index].certificate_id}", stored[index].result_json.encode(), ex=3600)
            return await pipeline.execute()

        async def write_rows(index: int) -> None:
            await inserts.insert_async(stored[index].rows(rulebook, {}))

        spent = await timed_io("Redis GET (miss)", calls, "redis-server", look_up)
        spent += await timed_io("Redis pipeline of 2 SETs (report, certificate)", calls, "redis-server", write_cache)
        spent += await timed_io("PostgreSQL: certificate + materials + audit row", calls, "postgres", write_rows)
        return spent
    finally:
        await inserts.aclose()
        await cache.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per step (max 20000)")
    calls = min(parser.parse_args().calls, 20000)
    rulebook = default_rulebook()
    bodies = [calculation_body(index) for index in range(calls + 1)]
    print(f"CPU per call of each step of POST /v1/origin/calculations ({calls} calls per step, distinct bodies)")
    spent = timed("parse JSON (Decimal numbers)", calls, lambda index: json.loads(bodies[index], parse_float=Decimal))
    documents = [json.loads(body, parse_float=Decimal) for body in bodies]
    spent += timed("validate the request (pydantic)", calls, lambda index: AssessmentRequest.model_validate(documents[index]))
    requests = [AssessmentRequest.model_validate(document) for document in documents]
    spent += timed("canonical request hash", calls, lambda index: canonical_hash(requests[index]))
    spent += timed("engine: assess", calls, lambda index: assess(requests[index], rulebook))
    reports = [assess(request, rulebook) for request in requests]
    spent += timed("engine report as JSON", calls, lambda index: reports[index].model_dump_json())
    with running_postgres() as postgres, running_redis() as redis_server:
        with psycopg.connect(postgres.conninfo(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE post_costs")
        engine = make_engine(make_url(postgres.dsn("post_costs")), pool_size=2, max_overflow=0)
        upgrade(engine)
        user_id = uuid.uuid4()
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, subject, username, realm, created_at) VALUES (:id, 'bench', 'bench', 'psra', now())"), {"id": user_id})
        stored = [
            StoredCalculation(uuid.uuid4(), utcnow(), user_id, request, report, report.model_dump_json(), canonical_hash(request))
            for request, report in zip(requests, reports, strict=True)
        ]
        cache = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            spent += asyncio.run(io_steps(calls, stored, AtomicInserts(engine, async_pool_size=1), cache))
        finally:
            engine.dispose()
    print(f"{'sum of the steps (this process)':<50} {spent / calls * 1e6:7.1f} us")


if __name__ == "__main__":
    main()
