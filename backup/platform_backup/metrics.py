"""Prometheus metrics of the last backup, check and restore drill, from the state file.

Served on `/metrics` (the platform's Prometheus scrapes `backup:9101`) and written as a
textfile (`metrics.prom`, for node_exporter's textfile collector) after every job.
The alert rules (templates/prometheus/alerts.yml.j2) fire on a stale or failed backup,
a failed off-site copy, a failed or overdue `restic check`, and a failed restore drill.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import state as state_module

PREFIX = "sevensa_backup_"
TEXTFILE = "metrics.prom"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in sorted(labels.items()))
    return "{" + ",".join(escaped) + "}"


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._declared: set[str] = set()

    def add(self, name: str, help_text: str, value: float, **labels: str) -> None:
        if name not in self._declared:
            self.lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge"]
            self._declared.add(name)
        number = float(value)
        self.lines.append(f"{PREFIX}{name}{_labels(labels)} {int(number) if number.is_integer() else number!r}")


def render(state: dict[str, Any]) -> str:
    out = _Lines()
    out.add("last_success_timestamp_seconds", "End of the newest backup run in which every data set succeeded (0: none yet).", state.get("last_success", 0))
    backup = state.get("backup")
    if backup:
        out.add("last_run_success", "1 if the last backup run backed up every data set (and copied off-site), else 0.", 1 if backup["success"] else 0)
        out.add("last_run_timestamp_seconds", "End of the last backup run.", backup["finished"])
        out.add("last_run_duration_seconds", "Duration of the last backup run.", backup["seconds"])
        for name, item in sorted(backup.get("datasets", {}).items()):
            labels = {"dataset": name, "service": item["service"], "kind": item["kind"]}
            out.add("dataset_success", "1 if the data set's last backup made a snapshot.", 1 if item["success"] else 0, **labels)
            out.add("dataset_duration_seconds", "Seconds the data set's last backup took.", item["seconds"], **labels)
            if item["success"]:
                out.add("dataset_bytes", "Bytes the data set's last backup read.", item["bytes"], **labels)
                out.add("dataset_added_bytes", "Bytes the data set's last backup added to the repository (after deduplication).", item["added_bytes"], **labels)
        if "repository_bytes" in backup:
            out.add("repository_size_bytes", "Bytes stored in the local restic repository (deduplicated, compressed).", backup["repository_bytes"], repository="local")
        if backup.get("offsite") is not None:
            out.add("offsite_copy_success", "1 if the last run copied its snapshots to the off-site repository.", 1 if backup["offsite"] else 0)
    check = state.get("check")
    if check:
        for repository, success in sorted(check.get("repositories", {}).items()):
            out.add("check_success", "1 if the last `restic check --read-data-subset` passed.", 1 if success else 0, repository=repository)
        out.add("check_last_timestamp_seconds", "End of the last repository check.", check["finished"])
    drill = state.get("drill")
    if drill:
        out.add("restore_drill_success", "1 if every database of the last restore drill came back with the recorded rows and checksums.", 1 if drill["success"] else 0)
        out.add("restore_drill_last_timestamp_seconds", "End of the last restore drill.", drill["finished"])
        for name, item in sorted(drill.get("datasets", {}).items()):
            out.add("restore_drill_dataset_success", "1 if this database's restore drill passed.", 1 if item["success"] else 0, dataset=name)
            out.add("restore_drill_dataset_seconds", "Seconds this database's restore drill took.", item["seconds"], dataset=name)
    return "\n".join(out.lines) + "\n"


def write_textfile(directory: Path) -> None:
    partial = directory / f".{TEXTFILE}.partial"
    partial.write_text(render(state_module.load(directory)))
    os.replace(partial, directory / TEXTFILE)


def serve(directory: Path, port: int, alive: Callable[[], bool]) -> ThreadingHTTPServer:
    """/metrics and /healthz (200 while the scheduler lives) in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path == "/metrics":
                body, status = render(state_module.load(directory)).encode(), 200
            elif self.path == "/healthz":
                body, status = (b"ok\n", 200) if alive() else (b"scheduler stopped\n", 503)
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
