"""What an attacker's requests cost the origin-calculation service, on real PostgreSQL, Redis, OpenBao and Keycloak.

Starts the servers (tests.servers), provisions them like the platform (tests/app/platform.py), runs
`python -m app serve` with one uvicorn worker on 127.0.0.1 (tests/app/served.py) (one worker, so a stalled event loop shows in
/healthz), and sends each attack in turn while a second client polls /healthz. Prints, per attack: the
status code, the median time to answer (warm keep-alive connection), the slowest /healthz meanwhile, the worker's peak RSS during the attack,
and whether the response echoed the attack's marker text.

    .venv/bin/python benchmarks/app_attacks.py [--only NAME ...]

Traffic goes to loopback only; every request has a timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.settings import Settings  # noqa: E402
from tests.app.platform import (  # noqa: E402
    PsraRealm,
    provision_claims_client,
    provision_openbao,
    provision_realm,
)
from tests.app.served import ServedApp, platform_env, serving_app  # noqa: E402
from tests.servers.keycloak_server import running_keycloak  # noqa: E402
from tests.servers.openbao import running_openbao_dev  # noqa: E402
from tests.servers.postgres import running_postgres  # noqa: E402
from tests.servers.redis_server import running_redis  # noqa: E402

SECRET = "sk_live_" + "Zq7" * 3000  # a long secret-looking value that no response may echo
CALCULATIONS = "/v1/origin/calculations"
MALFORMED_CLIENT = "psra-bench-malformed-claims"


def calculation(price: str = '"100.00"', **extra: Any) -> bytes:
    body = {"agreement": "EU-JP", "assessment_date": "2025-03-01", "product": {"hs_code": "850110", "ex_works_price": "PRICE"}, "materials": [], **extra}
    return json.dumps(body).replace('"PRICE"', price).encode()


def numbers(size: int) -> bytes:
    """A JSON list of numbers of about `size` bytes (what took a worker from 135 MB to 531 MB)."""
    count = size // 8
    return b"[" + b",".join([b"1234567"] * count) + b"]"


def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@dataclass(frozen=True)
class Attack:
    name: str
    method: str
    path: str
    authenticated: bool = True
    body: bytes | None = None
    chunked: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    client: str | None = None  # Keycloak client whose token to send (malformed claims)


def attacks() -> list[Attack]:
    big = numbers(11 * 1024 * 1024)
    nested_materials = '{"hs_code":"850300","origin":"CN","value":"1","sub_materials":[' * 300 + '{"hs_code":"850300","origin":"CN","value":"1"}' + "]}" * 300
    return [
        Attack("11 MiB body, no token", "POST", CALCULATIONS, authenticated=False, body=big),
        Attack("11 MiB chunked body, no token", "POST", CALCULATIONS, authenticated=False, body=big, chunked=True),
        Attack("11 MiB body, valid token", "POST", CALCULATIONS, body=big),
        Attack("ex_works_price 1e999999", "POST", CALCULATIONS, body=calculation("1e999999")),
        Attack("ex_works_price NaN", "POST", CALCULATIONS, body=calculation("NaN")),
        Attack("ex_works_price Infinity", "POST", CALCULATIONS, body=calculation("Infinity")),
        Attack("ex_works_price 1e5000", "POST", CALCULATIONS, body=calculation("1e5000")),
        Attack("ex_works_price 5000-digit integer", "POST", CALCULATIONS, body=calculation("9" * 5000)),
        Attack("ex_works_price '1e999999' (string)", "POST", CALCULATIONS, body=calculation('"1e999999"')),
        Attack("27 KB secret in hs_code (echo?)", "POST", CALCULATIONS, body=calculation(materials=[{"hs_code": SECRET, "origin": "CN", "value": "1"}])),
        Attack("27 KB secret in description (echo?)", "POST", CALCULATIONS, body=calculation(materials=[{"hs_code": "850300", "origin": "CN", "value": "1", "description": SECRET}])),
        Attack("JSON nested 100,000 deep", "POST", CALCULATIONS, body=b"[" * 100_000 + b"]" * 100_000),
        Attack("sub_materials nested 300 deep", "POST", CALCULATIONS, body=calculation(materials="MATS").replace(b'"MATS"', f"[{nested_materials}]".encode())),
        Attack("100,000 materials", "POST", CALCULATIONS, body=calculation(materials=[{"hs_code": "850300", "origin": "CN", "value": "1"}] * 100_000)),
        Attack("lone surrogate in supplier_name", "POST", "/v1/supplier-declarations", body=json.dumps(
            {"type": "supplier_declaration", "supplier_name": "\ud800", "supplier_country": "DE", "agreements": ["EU-JP"], "products": "x", "issue_date": "2025-01-01"}
        ).encode()),
        Attack("lone surrogate in description", "POST", CALCULATIONS, body=calculation(materials=[{"hs_code": "850300", "origin": "CN", "value": "1", "description": "\ud800"}])),
        Attack("realm_access null (signed)", "GET", "/v1/hs-codes/8501", client=MALFORMED_CLIENT),
        Attack("GET /metrics on the API port", "GET", "/metrics", authenticated=False),
        Attack("GET /docs on the API port", "GET", "/docs", authenticated=False),
        Attack("GET /openapi.json on the API port", "GET", "/openapi.json", authenticated=False),
        Attack("60 KB query string", "GET", "/v1/origin/rules?hs_code=" + "8" * 60_000),
        Attack("path traversal as calculation id", "GET", f"{CALCULATIONS}/..%2f..%2fetc%2fpasswd"),
        Attack("500 headers", "GET", "/v1/hs-codes/8501", headers=tuple((f"x-flood-{n}", "y" * 50) for n in range(500))),
        Attack("20 MB header value", "GET", "/healthz", authenticated=False, headers=(("x-padding", "p" * 20_000_000),)),
        Attack("120 rules of 1,800 characters", "POST", CALCULATIONS, body=calculation(materials=[
            {"hs_code": "850300", "origin": "EU", "value": "0.10", "in_house": True, "rule": "(" * 880 + f"CTH except from {1000 + n}" + ")" * 880}
            for n in range(120)
        ])),
        Attack("13 KiB body + 120 KB blanks, one write", "POST", CALCULATIONS, body=calculation(materials=[
            {"hs_code": "850300", "origin": "CN", "value": "0.10"}
        ] * 200) + b" " * 120_000),
    ]


@dataclass
class Outcome:
    status: str
    seconds: float
    healthz_worst: float
    peak_rss_mb: float
    echoed: bool


class Sampler:
    """Polls /healthz and the worker's RSS in background threads while an attack runs."""

    def __init__(self, served: ServedApp) -> None:
        self._served = served
        self._stop = threading.Event()
        self.healthz_worst = 0.0
        self.peak_rss = 0

    def _rss(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self._served.worker_rss())
            time.sleep(0.01)

    def _health(self) -> None:
        with httpx.Client(base_url=self._served.base_url, timeout=120) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                with contextlib.suppress(httpx.HTTPError):
                    client.get("/healthz")
                self.healthz_worst = max(self.healthz_worst, time.perf_counter() - start)
                time.sleep(0.02)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self._rss, daemon=True), threading.Thread(target=self._health, daemon=True)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            time.sleep(0.05)
            self._stop.set()
            for thread in threads:
                thread.join(timeout=130)


def send(client: httpx.Client, attack: Attack, token: Callable[[str | None], str]) -> tuple[str, str]:
    headers = dict(attack.headers)
    if attack.authenticated or attack.client:
        headers["Authorization"] = f"Bearer {token(attack.client)}"
    if attack.body is not None:
        headers["Content-Type"] = "application/json"
    content: Any = chunks(attack.body) if attack.chunked and attack.body is not None else attack.body
    try:
        response = client.request(attack.method, attack.path, content=content, headers=headers)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}", ""
    return str(response.status_code), response.text


def measure(served: ServedApp, attack: Attack, token: Callable[[str | None], str], repeat: int) -> Outcome:
    """One sampled run (healthz, RSS, echo), then `repeat` more on a warm keep-alive connection with nothing
    else running, whose median is the time reported."""
    sampler = Sampler(served)
    with sampler.running(), httpx.Client(base_url=served.base_url, timeout=150) as client:
        start = time.perf_counter()
        status, text = send(client, attack, token)
        seconds = time.perf_counter() - start
    times = [seconds]
    with httpx.Client(base_url=served.base_url, timeout=150) as client:
        client.get("/healthz")
        for _ in range(repeat - 1):
            start = time.perf_counter()
            send(client, attack, token)
            times.append(time.perf_counter() - start)
    return Outcome(status, statistics.median(times), sampler.healthz_worst, sampler.peak_rss / 2**20, "Zq7Zq7Zq7" in text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="attack names containing any of these words")
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions per attack (median reported)")
    parser.add_argument("--skip", nargs="*", default=(), help="leave out attack names containing any of these words")
    args = parser.parse_args()
    chosen = [
        a
        for a in attacks()
        if (not args.only or any(word.lower() in a.name.lower() for word in args.only)) and not any(word.lower() in a.name.lower() for word in args.skip)
    ]

    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(running_postgres())
        redis = stack.enter_context(running_redis())
        openbao = stack.enter_context(running_openbao_dev())
        keycloak = stack.enter_context(running_keycloak())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="psra-attacks-")))
        approle = provision_openbao(openbao, postgres, redis, workdir / "approle", "psra_attacks")
        realm: PsraRealm = provision_realm(keycloak)
        provision_claims_client(keycloak, realm, MALFORMED_CLIENT, {"realm_access": "null", "resource_access": '"psra-admin"'})
        settings = Settings(
            openbao_addr=openbao.addr,
            openbao_role_id_file=approle.role_id_file,
            openbao_secret_id_file=approle.secret_id_file,
            redis_host=redis.host,
            redis_port=redis.port,
            keycloak_url=keycloak.base_url,
        )
        served = stack.enter_context(serving_app({**os.environ, **platform_env(settings)}, 1, workdir / "app.log"))
        tokens: dict[str | None, str] = {}

        def token(client: str | None) -> str:
            if client not in tokens:
                tokens[client] = realm.token("alice", client) if client else realm.token("alice")
            return tokens[client]

        token(None)
        idle = served.worker_rss() / 2**20
        print(f"worker RSS at rest: {idle:.0f} MB (1 uvicorn worker, {os.cpu_count()} cores shared with other work)", flush=True)
        print(f"{'attack':<40} {'status':>7} {'median':>10} {'healthz worst':>14} {'peak RSS':>9} echo")
        for attack in chosen:
            outcome = measure(served, attack, token, max(1, args.repeat))
            print(
                f"{attack.name:<40} {outcome.status:>7} {outcome.seconds * 1000:8.1f}ms {outcome.healthz_worst * 1000:12.1f}ms "
                f"{outcome.peak_rss_mb:7.0f}MB {'YES' if outcome.echoed else 'no'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
