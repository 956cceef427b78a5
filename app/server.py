"""Run N uvicorn server processes on one port, each with its own SO_REUSEPORT socket.

The kernel then spreads connections over the workers by a hash of their addresses: evenly on average, not
exactly (32 connections of the load benchmark split 20/12 in one run and 16/16 in another); with one shared
listening socket (as `uvicorn --workers` does), long-lived keep-alive connections from a proxy pile up on
whichever worker accepts first. The first worker to end ends the service, so the container restarts as a whole. With
more than one worker, Prometheus samples go to a shared multiprocess directory; this process serves them
on the internal metrics port (app/metrics.py).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import tempfile
from multiprocessing.connection import wait

import uvicorn

from app.bounded_http import BoundedHeadProtocol
from app.metrics import serve_metrics


def run_servers(host: str, port: int, workers: int, metrics_port: int) -> None:
    if workers == 1:
        serve_metrics(host, metrics_port)
        run_worker(host, port)
        return
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="psra-metrics-"))
    serve_metrics(host, metrics_port)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=run_worker, args=(host, port), name=f"psra-worker-{n}") for n in range(workers)]
    for process in processes:
        process.start()
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = stopping or signum != 0
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wait([process.sentinel for process in processes])
    stop(0, None)
    for process in processes:
        process.join(timeout=30)
    if not stopping:
        sys.exit(f"a worker ended unexpectedly (exit codes {[process.exitcode for process in processes]})")


def run_worker(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        "app.api.main:create_app", factory=True, http=BoundedHeadProtocol, proxy_headers=True, access_log=False, log_level="info"
    )
    uvicorn.Server(config).run(sockets=[sock])
