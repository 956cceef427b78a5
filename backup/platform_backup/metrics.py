"""Prometheus metrics and a health endpoint for the backup container (stdlib HTTP server).

`sevensa_backup_last_success_timestamp_seconds` comes from the newest complete run on
disk, so it survives restarts; the alert rules fire when it is older than 26 hours.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import retention
from .runner import last_run


def render_metrics(root: Path) -> str:
    complete = retention.complete_runs(root)
    newest = retention.run_time(complete[-1]).timestamp() if complete else 0.0  # type: ignore[union-attr]
    size = sum(f.stat().st_size for f in complete[-1].iterdir()) if complete else 0
    last = last_run(root)
    lines = [
        "# HELP sevensa_backup_last_success_timestamp_seconds Start time of the newest complete backup run.",
        "# TYPE sevensa_backup_last_success_timestamp_seconds gauge",
        f"sevensa_backup_last_success_timestamp_seconds {newest}",
        "# HELP sevensa_backup_runs_kept Backup runs kept on local disk.",
        "# TYPE sevensa_backup_runs_kept gauge",
        f"sevensa_backup_runs_kept {len(retention.runs(root))}",
        "# HELP sevensa_backup_last_success_bytes Size of the newest complete run.",
        "# TYPE sevensa_backup_last_success_bytes gauge",
        f"sevensa_backup_last_success_bytes {size}",
    ]
    if last is not None:
        lines += [
            "# HELP sevensa_backup_last_run_success 1 if the last run backed up everything, else 0.",
            "# TYPE sevensa_backup_last_run_success gauge",
            f"sevensa_backup_last_run_success {1 if last['success'] else 0}",
            "# HELP sevensa_backup_last_run_duration_seconds Duration of the last run.",
            "# TYPE sevensa_backup_last_run_duration_seconds gauge",
            f"sevensa_backup_last_run_duration_seconds {last['seconds']}",
        ]
    return "\n".join(lines) + "\n"


def serve(root: Path, port: int, alive: threading.Event) -> ThreadingHTTPServer:
    """Serve /metrics and /healthz (200 while the scheduler is alive) in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path == "/metrics":
                body, status = render_metrics(root).encode(), 200
            elif self.path == "/healthz":
                body, status = (b"ok\n", 200) if alive.is_set() else (b"scheduler stopped\n", 503)
            else:
                body, status = b"not found\n", 404
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104 - internal networks only
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
