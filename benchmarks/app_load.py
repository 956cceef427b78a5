"""Load benchmark of the origin-calculation service on real PostgreSQL, Redis, OpenBao and Keycloak.

Starts the servers (tests.servers), provisions them like the platform (tests/app/platform.py), runs
`python -m app serve` with N uvicorn workers on 127.0.0.1, then drives it with C concurrent keep-alive
HTTP/1.1 clients for a bounded time: first POST /v1/origin/calculations (every body distinct, so the
engine runs and a certificate, its materials and an audit row are written each time), then GET
/healthz of the same app. The load generator is `wrk` (compiled, Debian package; a Lua script builds
the distinct bodies), so it takes little of the cores the app shares with it; `--generator asyncio`
uses the former pure-Python client instead, for comparison.
Prints p50/p95/p99 latency and throughput of both and their ratio, and the CPU time each request cost
the app workers, PostgreSQL, Redis and the load generator (all share the machine's cores): with C
clients always waiting, latency is C / throughput, and throughput is capped by cores / CPU per request.
It also prints how the clients' connections fell on the workers, and the share of POSTs the app itself
timed within 25 ms (its latency histogram): where that share is close to the clients', the tail is spent
inside the workers, not on the way to them.

    .venv/bin/python benchmarks/app_load.py [--clients 32] [--workers 2] [--duration 20]

Traffic goes to loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app.platform import provision_openbao, provision_realm  # noqa: E402
from tests.servers._process import free_port  # noqa: E402
from tests.servers.keycloak_server import running_keycloak  # noqa: E402
from tests.servers.openbao import running_openbao_dev  # noqa: E402
from tests.servers.postgres import running_postgres  # noqa: E402
from tests.servers.redis_server import running_redis  # noqa: E402

HOST = "127.0.0.1"


ROLES = {"postgres": "PostgreSQL", "redis-server": "Redis", "bao": "OpenBao", "java": "Keycloak"}


def cpu_by_role() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of this process (the load generator) and every process it
    started, by pid: the app's processes are Python, the servers are named by their executables."""
    me = psutil.Process()
    found = {}
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            role = "load generator" if process.pid == me.pid else ROLES.get(process.name(), "app workers")
            found[process.pid] = (role, times.user + times.system)
    return found


def connections_by_worker(port: int) -> list[int]:
    """Established connections on the app's port held by each of its processes, most first: the kernel spreads
    them over the workers' SO_REUSEPORT sockets by a hash of the addresses, not evenly (32 split 20/12 in one
    run), so one worker may queue more requests than the other."""
    counts = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            held = sum(1 for c in process.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
            if held:
                counts.append(held)
    return sorted(counts, reverse=True)


async def _window_cpu(warm_until: float, stop_at: float) -> dict[str, float]:
    """CPU seconds by role spent between warm_until and stop_at (processes started meanwhile count whole)."""
    await asyncio.sleep(max(0.0, warm_until - time.perf_counter()))
    before = cpu_by_role()
    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
    spent: dict[str, float] = {}
    for pid, (role, seconds) in cpu_by_role().items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return spent


@dataclass
class Result:
    """One scenario's figures: latencies in milliseconds, CPU seconds by role over the measured window."""

    name: str
    requests: int
    errors: int
    seconds: float
    p50: float
    p95: float
    p99: float
    mean: float
    cpu: dict[str, float] = field(default_factory=dict)
    connections: list[int] = field(default_factory=list)  # open client connections by app worker, most first

    @classmethod
    def of(cls, name: str, latencies: list[float], errors: int, seconds: float, cpu: dict[str, float]) -> Result:
        ordered = sorted(latencies) or [0.0]

        def at(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        return cls(name, len(latencies), errors, seconds, at(0.50), at(0.95), at(0.99), statistics.fmean(ordered) * 1000, cpu)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        return (
            f"{self.name:<32} requests={self.requests:>6} errors={self.errors:>3} "
            f"p50={self.p50:6.2f} ms p95={self.p95:6.2f} ms p99={self.p99:6.2f} ms "
            f"mean={self.mean:6.2f} ms throughput={self.throughput:7.1f} req/s"
        )

    def cpu_line(self) -> str:
        """CPU milliseconds per request by role, and the throughput the cores could give at that cost."""
        per_request = {role: seconds * 1000 / max(1, self.requests) for role, seconds in sorted(self.cpu.items(), key=lambda item: -item[1])}
        total = sum(per_request.values())
        parts = ", ".join(f"{role} {ms:.2f}" for role, ms in per_request.items() if ms >= 0.005)
        cores = os.cpu_count() or 1
        split = f"; connections by worker {'/'.join(map(str, self.connections))}" if self.connections else ""
        return f"{'':<32} CPU ms per request: {parts}; total {total:.2f} -> {cores} cores cap throughput near {cores * 1000 / total:.0f} req/s{split}"


def calculation_body(counter: int) -> bytes:
    """A realistic EU-JP motor assessment; the ex-works price encodes the counter, so no two bodies are equal
    (clients count seed, seed + 1000, ...: every request is a calculation-cache miss and runs the engine)."""
    exw = f"{100 + counter // 100}.{counter % 100:02d}"
    body = {
        "agreement": "EU-JP",
        "assessment_date": "2025-03-01",
        "product": {"hs_code": "850110", "ex_works_price": exw, "fob_price": "150.00"},
        "operations": ["winding", "assembly"],
        "materials": [
            {"hs_code": "850300", "origin": "CN", "value": "30.00"},
            {"hs_code": "720917", "origin": "DE", "value": "10.00", "dispatch_date": "2025-02-01",
             "proof": {"type": "ltsd", "issue_date": "2025-01-01", "valid_from": "2025-01-01", "valid_until": "2025-12-31"}},
            {"hs_code": "854459", "origin": "JP", "value": "8.00", "proof": {"type": "statement_on_origin", "issue_date": "2025-01-15"}},
            {"hs_code": "850300", "origin": "EU", "value": "20.00", "in_house": True,
             "sub_materials": [{"hs_code": "720917", "origin": "CN", "value": "5.00"}]},
        ],
    }  # fmt: skip
    return json.dumps(body, separators=(",", ":")).encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return status


@dataclass
class _Sink:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


async def _client(port: int, request: Callable[[int], bytes], expected: int, warm_until: float, stop_at: float, sink: _Sink, seed: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    counter = seed
    try:
        while (now := time.perf_counter()) < stop_at:
            counter += 1000
            payload = request(counter)
            start = time.perf_counter()
            writer.write(payload)
            status = await _read_response(reader)
            elapsed = time.perf_counter() - start
            if now >= warm_until:
                sink.latencies.append(elapsed)
                sink.errors += status != expected
    finally:
        writer.close()


async def _run(
    name: str, port: int, clients: int, request: Callable[[int], bytes], expected: int, warmup: float, duration: float, first: int = 0
) -> Result:
    """Client n counts first + n, first + n + 1000, ...; runs given different `first` never send the same body."""
    sink = _Sink()
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + duration
    clients_done = asyncio.gather(*(_client(port, request, expected, warm_until, stop_at, sink, first + seed) for seed in range(clients)))
    cpu, _ = await asyncio.gather(_window_cpu(warm_until, stop_at), clients_done)
    return Result.of(name, sink.latencies, sink.errors, duration, cpu)


# wrk's Lua side: each thread counts from its own start, so no two bodies are equal (as with the asyncio
# clients); `done` prints the summary as one JSON line. Latencies come in microseconds.
WRK_SCRIPT = """
local template = TEMPLATE
local started = 0
function setup(thread)
  thread:set("first", FIRST + started * 100000000)
  started = started + 1
end
function init(args)
  counter = first
  wrk.method = METHOD
  wrk.headers = HEADERS
end
function request()
  counter = counter + 1
  if template == nil then return wrk.format() end
  local exw = string.format("%d.%02d", 100 + math.floor(counter / 100), counter % 100)
  return wrk.format(nil, nil, nil, string.format(template, exw))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "errors": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "mean": %f}\\n',
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for this ASCII text


def wrk_script(method: str, token: str | None, template: str | None, first: int) -> str:
    headers = {"Host": f"{HOST}"} | ({"Authorization": f"Bearer {token}"} if token else {}) | ({"Content-Type": "application/json"} if template else {})
    lua_headers = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()) + "}"
    return (
        WRK_SCRIPT.replace("FIRST", str(first))
        .replace("METHOD", _lua_string(method))
        .replace("HEADERS", lua_headers)
        .replace("TEMPLATE", _lua_string(template) if template else "nil")
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(name: str, port: int, path: str, clients: int, script: Path, duration: float) -> Result:
    """wrk with `clients` connections on two threads for `duration` seconds; CPU by role over the run, the
    load generator's being wrk's own (a waited-for child) plus this idle process's."""
    before, children_before = cpu_by_role(), _children_cpu()
    with subprocess.Popen(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{duration:.0f}s", "--timeout", "10s", "-s", str(script), f"http://{HOST}:{port}{path}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as wrk:  # fmt: skip
        time.sleep(min(1.0, duration / 4))  # wrk has opened its connections
        split = connections_by_worker(port)
        stdout, stderr = wrk.communicate(timeout=duration + 60)
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk exited with {wrk.returncode}:\n{stderr}")
    spent: dict[str, float] = {}
    for pid, (role, seconds) in cpu_by_role().items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    spent["load generator"] = spent.get("load generator", 0.0) + _children_cpu() - children_before
    line = next((line for line in stdout.splitlines() if line.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
    summary = json.loads(line[4:])
    seconds = summary["duration_us"] / 1e6
    return Result(name, summary["requests"], summary["errors"], seconds, summary["p50"] / 1000, summary["p95"] / 1000, summary["p99"] / 1000, summary["mean"] / 1000, spent, split)


def _post_bucket(samples: list[str], bound: str) -> float:
    """The app's count of POST /v1/origin/calculations answered within `bound` seconds (a histogram bucket)."""
    prefix = f'psra_http_request_duration_seconds_bucket{{le="{bound}",method="POST",route="/v1/origin/calculations"}}'
    return next((float(line.split()[-1]) for line in samples if line.startswith(prefix)), 0.0)


def http_request(method: str, path: str, port: int, token: str | None = None, body: Callable[[int], bytes] | None = None) -> Callable[[int], bytes]:
    def build(counter: int) -> bytes:
        content = body(counter) if body else b""
        headers = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
        if token:
            headers.append(f"Authorization: Bearer {token}")
        if body:
            headers += ["Content-Type: application/json", f"Content-Length: {len(content)}"]
        return ("\r\n".join(headers) + "\r\n\r\n").encode() + content

    return build


@contextlib.contextmanager
def running_app(env: dict[str, str], workers: int, port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                        break
                if process.poll() is not None:
                    raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            else:
                raise RuntimeError(f"the app did not become ready:\n{log.read_text()[-3000:]}")
            yield
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            if process.poll() is None:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per scenario (max 120)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--generator", choices=("wrk", "asyncio"), default="wrk", help="load generator (default: wrk, compiled)")
    args = parser.parse_args()
    if args.generator == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (scripts/install-system-deps.sh installs it); or run with --generator asyncio")
    duration = min(args.duration, 120.0)

    with contextlib.ExitStack() as stack, contextlib.ExitStack() as identity:
        started = time.perf_counter()
        postgres = stack.enter_context(running_postgres())
        redis = stack.enter_context(running_redis())
        openbao = stack.enter_context(running_openbao_dev())
        keycloak = identity.enter_context(running_keycloak())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="psra-bench-")))
        approle = provision_openbao(openbao, postgres, redis, workdir / "approle", "psra_bench")
        realm = provision_realm(keycloak)
        print(f"servers ready in {time.perf_counter() - started:.1f}s", flush=True)

        port, metrics_port = free_port(), free_port()
        env = {
            **os.environ,
            "PSRA_METRICS_PORT": str(metrics_port),
            "PSRA_OPENBAO_ADDR": openbao.addr,
            "PSRA_OPENBAO_ROLE_ID_FILE": str(approle.role_id_file),
            "PSRA_OPENBAO_SECRET_ID_FILE": str(approle.secret_id_file),
            "PSRA_REDIS_HOST": redis.host,
            "PSRA_REDIS_PORT": str(redis.port),
            "PSRA_KEYCLOAK_URL": keycloak.base_url,
            "PSRA_DB_POOL_SIZE": str(max(4, args.clients // args.workers)),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir),
        }
        stack.enter_context(running_app(env, args.workers, port, workdir / "app.log"))
        token = realm.token("alice")
        calc = http_request("POST", "/v1/origin/calculations", port, token, calculation_body)
        health = http_request("GET", "/healthz", port)
        # Every worker fetches the realm's JWKS on its first request; after that tokens are verified locally,
        # so Keycloak (whose idle JVM takes a quarter of a core) is stopped before measuring.
        warm = asyncio.run(_run("warm-up", port, args.clients, calc, 201, 0, args.warmup))
        if warm.errors:  # e.g. a worker whose first fetch of the realm's keys timed out: its figures would be of 503s
            sys.exit(f"app_load: {warm.errors} warm-up POSTs were not answered 201 (see the app log); not measuring")
        identity.close()
        print(f"load: {args.clients} concurrent keep-alive clients ({args.generator}), {args.workers} uvicorn workers, {os.cpu_count()} cores, "
              f"{args.warmup:.0f}s warm-up + {duration:.0f}s per scenario; Keycloak stopped after token issue and warm-up", flush=True)  # fmt: skip
        if args.generator == "wrk":
            template = calculation_body(0).decode().replace('"ex_works_price":"100.00"', '"ex_works_price":"%s"')
            scripts = {name: workdir / f"{name}.lua" for name in ("warm-up", "post", "health")}
            # counters far apart: the measured run sends no body the warm-up (or the asyncio warm-up) sent
            scripts["warm-up"].write_text(wrk_script("POST", token, template, 2 * 10**9), encoding="utf-8")
            scripts["post"].write_text(wrk_script("POST", token, template, 10**9), encoding="utf-8")
            scripts["health"].write_text(wrk_script("GET", None, None, 0), encoding="utf-8")
            run_wrk("warm-up", port, "/v1/origin/calculations", args.clients, scripts["warm-up"], args.warmup)
            post = run_wrk("POST /v1/origin/calculations", port, "/v1/origin/calculations", args.clients, scripts["post"], duration)
        else:
            post = asyncio.run(_run("POST /v1/origin/calculations", port, args.clients, calc, 201, args.warmup, duration, first=10**9))
        print(post.line(), post.cpu_line(), sep="\n", flush=True)
        samples = [line for line in httpx.get(f"http://{HOST}:{metrics_port}/metrics", timeout=10).text.splitlines() if not line.startswith("#")]
        lookups = [line for line in samples if 'family="calculation"' in line]
        print("engine-result cache (all POSTs so far, warm-up included):", ", ".join(line.split("{", 1)[1] for line in lookups))
        # wrk counts answers other than 2xx/3xx as errors without saying which; the app's own counter does
        answers = [line for line in samples if line.startswith("psra_http_requests_total{") and 'route="/v1/origin/calculations"' in line]
        print("POST answers by status (warm-up included):", ", ".join(line.split("status=", 1)[1] for line in answers))
        # the app's own latency histogram: a share close to the clients' says the time passes inside the workers
        # (waiting for a turn of the event loop, or for a core), not on the way to them
        within, total = (_post_bucket(samples, bound) for bound in ("0.025", "+Inf"))
        print(f"POSTs the app answered within 25 ms by its own clock (warm-up included): {within / max(1.0, total):.0%}")
        if args.generator == "wrk":
            run_wrk("warm-up", port, "/healthz", args.clients, scripts["health"], args.warmup)
            get = run_wrk("GET /healthz", port, "/healthz", args.clients, scripts["health"], duration)
        else:
            get = asyncio.run(_run("GET /healthz", port, args.clients, health, 200, args.warmup, duration))
        print(get.line(), get.cpu_line(), sep="\n", flush=True)
        with postgres.connect("psra_bench") as conn:
            stored = conn.execute("SELECT count(*) FROM certificates").fetchone()[0]
        print(f"certificates stored: {stored}")
        print(
            f"ratio POST/healthz: p50 x{post.p50 / get.p50:.1f}, p95 x{post.p95 / get.p95:.1f}, "
            f"p99 x{post.p99 / get.p99:.1f}, throughput x{post.throughput / get.throughput:.2f}"
        )
        target = "met" if post.p95 <= 25 else "NOT met"
        print(f"target p95 <= 25 ms for POST /v1/origin/calculations: {target} ({post.p95:.2f} ms)")


if __name__ == "__main__":
    main()
