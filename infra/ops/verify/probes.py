"""HTTP and TLS probes from the verifier's side: connect to an address, speak for a hostname.

Each probe connects to the address given (the VPS, whatever DNS says) and sends the
hostname as SNI and Host header, as `curl --resolve` would: what is checked is this host,
even before DNS points at it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_SECONDS = 10.0
PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    certificate: dict = field(default_factory=dict)

    @property
    def cert_days_left(self) -> float:
        not_after = self.certificate.get("notAfter")
        return (ssl.cert_time_to_seconds(not_after) - time.time()) / 86_400 if not_after else 0.0


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying context: the system's trust store, or only `ca_file` when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def fetch(address: str, port: int, hostname: str, path: str = "/", *, context: ssl.SSLContext | None = None) -> Response:
    """GET `path` from `address:port` as `hostname` (TLS when `context` is given)."""
    raw = socket.create_connection((address, port), timeout=TIMEOUT_SECONDS)
    try:
        sock: socket.socket = context.wrap_socket(raw, server_hostname=hostname) if context else raw
        request = f"GET {path} HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: sevensa-verify\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read(1_000_000)
        certificate = sock.getpeercert() if context else {}
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body, certificate or {})
    finally:
        raw.close()
