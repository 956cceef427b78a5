"""Benchmark: page loads of the web front end in the local mode (`make web`), the embedded default.

Starts `python -m app.web` on a free loopback port with a fresh SQLite file, then measures
* the first page load in a fresh headless Chromium (Navigation Timing: first byte, DOM ready, load event,
  the stylesheet included) — the figure the issue holds under 200 ms;
* each page's server time over HTTP (median and p95 of repeated GETs): new calculation, a result,
  My calculations, supplier declarations, audit log, and the certificate PDF.

    .venv/bin/python benchmarks/web_pages.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers._process import free_port  # noqa: E402
from tests.web.browser import chromium, navigation_ms  # noqa: E402


def _start(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "app.web", "--host", "127.0.0.1", "--port", str(port), "--database", str(workdir / "psra.sqlite3")]
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(workdir / "server.log").open("wb"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the local mode did not start; see {workdir / 'server.log'}")


def _calculation(client: httpx.Client) -> str:
    page = client.get("/calculations/new").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "agreement": "EU-JP",
        "assessment_date": date.today().isoformat(),
        "product_hs_code": "850110",
        "product_ex_works_price": "100.00",
        "product_fob_price": "120.00",
        **{f"m{i}_{k}": v for i, row in enumerate([("850300", "CN", "30"), ("720917", "DE", "10"), ("854449", "CN", "15")]) for k, v in zip(("hs_code", "origin", "value"), row, strict=True)},
    }
    created = client.post("/calculations/new", data=form)
    assert created.status_code == 303, created.text
    return created.headers["location"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="psra-web-bench-"))
    port = free_port()
    server = _start(port, workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        with console.status("first page load in a fresh Chromium"), chromium() as driver:
            driver.get(f"{base}/")
            first = navigation_ms(driver)
        rows = [("first page load, fresh browser (first byte / DOM ready / load)", f"{first['response_start']:.0f} / {first['dom_content_loaded']:.0f} / {first['load']:.0f} ms", "")]
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            result = _calculation(client)
            pages = {
                "new calculation": "/calculations/new",
                "result": result,
                "my calculations": "/calculations",
                "supplier declarations": "/declarations",
                "audit log": "/admin/audit",
                "certificate PDF": f"{result}/certificate.pdf",
            }
            with console.status(f"{args.repeat} GETs of each page"):
                for name, path in pages.items():
                    times = []
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        response = client.get(path)
                        times.append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200, (path, response.status_code)
                    times.sort()
                    rows.append((f"{name} ({path.split('?')[0][:40]})", f"{statistics.median(times):.1f} ms", f"{times[int(len(times) * 0.95) - 1]:.1f} ms"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    table = Table(title="PSRA web pages, local mode (SQLite, in-process cache)")
    for column in ("what", "median", "p95"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
