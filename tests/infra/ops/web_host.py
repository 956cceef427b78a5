"""The test host's web front: what Traefik serves on 80 and 443, steerable by a control file.

Run inside the test host's network namespace:
    python web_host.py --control control.json
Port 80 redirects to HTTPS; port 443 serves every hostname with the certificate the control
file names (chosen per connection, through SNI), Keycloak's discovery document for
`auth.<domain>`, and an optional status per hostname. Each request re-reads the control
file, so a test changes what the host does without restarting it.
"""

from __future__ import annotations

import argparse
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


class Control:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())


def handler(control: Control, tls: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            settings = control.read()
            host = (self.headers.get("Host") or "").split(":", 1)[0]
            if not tls:
                if settings.get("redirect", True):
                    self._send(301, headers={"Location": f"https://{host}{self.path}"})
                else:
                    self._send(200, b"plain http")
                return
            if host.startswith("auth.") and self.path.endswith(DISCOVERY_SUFFIX) and self.path.startswith("/realms/"):
                if not settings.get("discovery", True):
                    self._send(404, b"not found")
                    return
                realm = self.path.split("/")[2]
                document = {"issuer": f"https://{host}/realms/{realm}", "authorization_endpoint": f"https://{host}/realms/{realm}/auth"}
                self._send(200, json.dumps(document).encode(), {"Content-Type": "application/json"})
                return
            self._send(int(settings.get("status", {}).get(host, 200)), b"ok")

    return Handler


def _tls_context(certificate: dict[str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate["cert"], certificate["key"])
    return context


def serve(control: Control) -> None:
    certificates = {name: _tls_context(cert) for name, cert in control.read()["certificates"].items()}

    def choose(sock: ssl.SSLSocket, _server_name: str | None, _context: ssl.SSLContext) -> None:
        sock.context = certificates[control.read()["certificate"]]

    front = _tls_context(control.read()["certificates"][control.read()["certificate"]])
    front.sni_callback = choose
    https = ThreadingHTTPServer(("0.0.0.0", 443), handler(control, tls=True))  # noqa: S104 - the test host's public port
    https.socket = front.wrap_socket(https.socket, server_side=True)
    http = ThreadingHTTPServer(("0.0.0.0", 80), handler(control, tls=False))  # noqa: S104
    threading.Thread(target=http.serve_forever, daemon=True).start()
    https.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=Path, required=True)
    serve(Control(parser.parse_args().control))
