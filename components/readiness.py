"""Readiness gates: hold the Keycloak and OpenBao providers back until the server answers.

Also the public OIDC issuer, which OpenBao fetches when its OIDC method is written: it answers
only once Traefik routes the host with a certificate and the realm exists.

The providers are configured with an endpoint Output that resolves only once the server's
health endpoint reports ready (after its container exists), so no provider call races a
starting container. In a preview or the offline plan (Pulumi mocks) the gate is a no-op:
the endpoint resolves at once and nothing is contacted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_monitor


class NotReadyError(RuntimeError):
    """The server did not become ready in time; the message says what to do."""


@dataclass(frozen=True)
class Probe:
    """What to ask the server and how to read its answer.

    `verdict(status_code)` returns None when ready, else a sentence on what is missing.
    """

    what: str
    path: str
    verdict: Callable[[int], str | None]
    timeout_seconds: float = 300.0
    interval_seconds: float = 2.0


def offline() -> bool:
    """True in a preview and under Pulumi mocks (the offline plan and unit tests)."""
    return pulumi.runtime.is_dry_run() or isinstance(get_monitor(), MockMonitor)


def openbao_verdict(status: int) -> str | None:
    """`/v1/sys/health`: 200 active; 501 not initialized; 503 sealed (see OpenBao sys/health)."""
    if status == 200:
        return None
    if status == 501:
        return "OpenBao is not initialized: run `python cli.py bootstrap openbao`"
    if status == 503:
        return "OpenBao is sealed: run `python cli.py bootstrap unseal`"
    return f"OpenBao health answered HTTP {status}"


def keycloak_verdict(status: int) -> str | None:
    return None if status == 200 else f"Keycloak answered HTTP {status}"


def issuer_verdict(status: int) -> str | None:
    return None if status == 200 else f"the issuer's discovery document answered HTTP {status} (realm not applied, or no route/certificate yet)"


OPENBAO_HEALTH = Probe("OpenBao", "/v1/sys/health", openbao_verdict)
KEYCLOAK_HEALTH = Probe("Keycloak", "/realms/master/.well-known/openid-configuration", keycloak_verdict)
ISSUER_DISCOVERY = Probe("The OIDC issuer (through Traefik, with its ACME certificate)", "/.well-known/openid-configuration", issuer_verdict)


async def wait_until_ready(base_url: str, probe: Probe) -> str:
    """Poll `base_url + probe.path` until the verdict is ready; return `base_url`."""
    import httpx  # only a real deployment polls; the offline plan never loads it

    deadline = time.monotonic() + probe.timeout_seconds
    problem = "no answer yet"
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            try:
                response = await client.get(base_url.rstrip("/") + probe.path)
                verdict = probe.verdict(response.status_code)
                if verdict is None:
                    return base_url
                problem = verdict
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__} connecting to {base_url}"
            if time.monotonic() >= deadline:
                raise NotReadyError(f"{probe.what} at {base_url} not ready after {probe.timeout_seconds:.0f}s: {problem}")
            await asyncio.sleep(probe.interval_seconds)


def gated_endpoint(base_url: str, probe: Probe, after: Sequence[pulumi.Input[object]] = ()) -> pulumi.Output[str]:
    """`base_url` as an Output that resolves once `after` exist and the server is ready.

    Passing it as a provider's endpoint makes every resource of that provider wait for it.
    """

    async def resolve(_: list[object]) -> str:
        if offline():
            return base_url
        return await wait_until_ready(base_url, probe)

    return pulumi.Output.all(*after).apply(resolve)
