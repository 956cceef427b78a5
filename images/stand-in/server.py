"""Stand-in for a service whose software cannot be had from the package registries.

It is NOT the service: it answers every GET with a small JSON body saying so (200), which makes
health endpoints (`/health`, `/api/health`, `/healthz`, `/ready`, ...) pass, serves `/metrics` in
Prometheus text format, and accepts writes (204) so pushers (e.g. to a Loki stand-in) do not fail.
It listens on every port in STAND_IN_PORTS (default: the catalog's service ports) and ignores its
command-line arguments, so it runs with the plan's command for the real service.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORTS = "3000,3100,5678,8000,9080"
MAX_BODY = 1 << 20
SERVICE = os.environ.get("STAND_IN_SERVICE") or socket.gethostname()


class Handler(BaseHTTPRequestHandler):
    server_version = "stand-in"
    sys_version = ""

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Stand-In", "true")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/metrics":
            body = f'# HELP stand_in_up A stand-in, not the real service.\n# TYPE stand_in_up gauge\nstand_in_up{{service="{SERVICE}"}} 1\n'
            self._reply(200, body.encode(), "text/plain; version=0.0.4")
            return
        body = {"status": "ok", "stand_in": True, "service": SERVICE, "port": self.server.server_address[1]}
        self._reply(200, json.dumps(body).encode(), "application/json")

    do_HEAD = do_GET

    def _write(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, b'{"error": "body too large"}', "application/json")
            return
        self.rfile.read(length)
        self._reply(204, b"", "application/json")

    do_POST = do_PUT = do_PATCH = do_DELETE = _write

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        sys.stderr.write(f"stand-in {SERVICE}: {self.address_string()} {format % args}\n")


def main() -> None:
    ports = [int(p) for p in os.environ.get("STAND_IN_PORTS", DEFAULT_PORTS).split(",") if p.strip()]
    servers = [ThreadingHTTPServer(("0.0.0.0", port), Handler) for port in ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stderr.write(f"stand-in {SERVICE}: listening on {', '.join(map(str, ports))} (not the real service)\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
